import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;

/**
 * One TLS connection, client or server side, and the {@link Outcome} it came to.
 *
 * <p>After the handshake the server writes one greeting line and the client reads it, so a TLS
 * 1.3 server's refusal of the client certificate (sent after the client's handshake has
 * returned) counts as a refusal, not as a success.
 */
final class Attempt {
    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    static final String GREETING = "PICO-RCP OK";

    final Outcome outcome;
    final String peer; // the other side's certificate subject, "NONE", or null if unknown
    final String detail;

    private Attempt(Outcome outcome, String peer, String detail) {
        this.outcome = outcome;
        this.peer = peer;
        this.detail = detail;
    }

    /** Connect to host:port, handshake, read the server's greeting. */
    static Attempt connect(SSLContext context, String host, int port, int connectTimeoutMs,
            int ioTimeoutMs) {
        Stores.clearRejection();
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), connectTimeoutMs);
            raw.setSoTimeout(ioTimeoutMs);
            try (SSLSocket tls = (SSLSocket) context.getSocketFactory()
                    .createSocket(raw, host, port, true)) {
                tls.setEnabledProtocols(PROTOCOLS);
                tls.startHandshake();
                String peer = peerSubject(tls);
                String line = readLine(tls.getInputStream());
                if (line == null || !line.startsWith(GREETING)) {
                    return new Attempt(Outcome.RESET, peer, "closed after the handshake");
                }
                return new Attempt(Outcome.OK, peer, null);
            }
        } catch (IOException e) {
            String rejection = Stores.takeRejection();
            String peer = Stores.takePeer();
            return new Attempt(classify(e, rejection), peer,
                    rejection != null ? rejection : e.toString());
        }
    }

    /** Server side: handshake on an accepted socket and greet the client. */
    static Attempt accept(SSLSocket tls, String alias, int ioTimeoutMs) {
        Stores.clearRejection();
        try (tls) {
            tls.setSoTimeout(ioTimeoutMs);
            tls.startHandshake();
            String peer = peerSubject(tls);
            OutputStream out = tls.getOutputStream();
            out.write((GREETING + " " + alias + "\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return new Attempt(Outcome.OK, peer, null);
        } catch (IOException e) {
            String rejection = Stores.takeRejection();
            String peer = Stores.takePeer();
            Outcome outcome = classify(e, rejection);
            if (outcome == Outcome.RESET && rejection == null) {
                outcome = Outcome.NO_HELLO; // closed before finishing without an alert
            }
            return new Attempt(outcome, peer, rejection != null ? rejection : e.toString());
        }
    }

    static Outcome classify(IOException e, String rejection) {
        if (rejection != null) {
            return Outcome.TLS_REJECTED_PEER;
        }
        if (e instanceof UnknownHostException) {
            return Outcome.DNS;
        }
        if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
            return Outcome.REFUSED;
        }
        if (e instanceof SocketTimeoutException) {
            return Outcome.TIMEOUT;
        }
        if (e instanceof SSLException) {
            String message = String.valueOf(e.getMessage());
            if (message.contains("Received fatal alert")) {
                return Outcome.TLS_REJECTED_BY_PEER;
            }
            if (message.contains("Remote host terminated") || causedByReset(e)) {
                return Outcome.RESET;
            }
            return Outcome.TLS_ERROR;
        }
        if (e instanceof SocketException || e instanceof EOFException) {
            return Outcome.RESET;
        }
        return Outcome.IO_ERROR;
    }

    private static boolean causedByReset(Throwable e) {
        for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
            if (t instanceof SocketException || t instanceof EOFException) {
                return true;
            }
        }
        return false;
    }

    private static String peerSubject(SSLSocket tls) {
        try {
            X509Certificate cert = (X509Certificate) tls.getSession().getPeerCertificates()[0];
            return cert.getSubjectX500Principal().getName();
        } catch (SSLPeerUnverifiedException e) {
            return "NONE";
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = in.read(); b != -1; b = in.read()) {
            if (b == '\n') {
                return line.toString();
            }
            line.append((char) b);
            if (line.length() > 200) {
                break;
            }
        }
        return line.length() == 0 ? null : line.toString();
    }
}
