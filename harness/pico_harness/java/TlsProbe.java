import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.Security;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;

/**
 * TLS interop probe for pico keystores: plain JDK, no dependencies.
 *
 * <p>Like a pico instance, it reads ONE keystore: its own private-key entry (chosen by alias, as
 * {@code pico.rcp.tls.keystore.alias} does) and the certificates it trusts (the JDK PKIX trust
 * manager built from the same keystore; the JDK also trusts the leaf certificate of key entries).
 *
 * <pre>
 * server KEYSTORE TYPE STOREPW KEYPW ALIAS REQUIRE_CLIENT_AUTH PORT
 *   stdout line 1: "PORT n" (or "ERROR ..." and exit 2), then per connection
 *   "ACCEPT subject|NONE" or "REJECT ExceptionClass: message". Exits when stdin closes.
 * servers
 *   several servers in one JVM, configured on stdin (see servers()).
 * client HOST PORT KEYSTORE TYPE STOREPW KEYPW [ALIAS]
 *   "OK subject sha256" (exit 0) or "FAIL ExceptionClass: message" (exit 1).
 * clients
 *   stdin lines "HOST\tPORT\tKEYSTORE\tTYPE\tSTOREPW\tKEYPW\tALIAS" (ALIAS may be empty);
 *   one JVM, one handshake per line, stdout "RESULT i C OK ..." / "RESULT i C FAIL ...",
 *   C = 1 when the TCP connection was made, 0 otherwise. Exit 0.
 * inspect
 *   stdin lines "KEYSTORE\tTYPE\tSTOREPW\tKEYPW"; per store "STORE i OK n" or "STORE i FAIL ...",
 *   then per entry "ENTRY i alias PrivateKeyEntry|trustedCertEntry|other sha256 chainlength KEY"
 *   with KEY = "key-ok" (key recovered with KEYPW), "key-fail" or "-". Exit 0.
 * props
 *   stdin lines "ROOT\tFILE1\tFILE2..." (.properties files as a pico instance loads them, later
 *   files win); per line "CONFIG i OK\tKEYSTORE\tTYPE\tSTOREPW\tKEYPW\tALIAS\tREQUIRE" where
 *   KEYSTORE is ROOT/basename(pico.rcp.tls.keystore) and TYPE comes from its extension, or
 *   "CONFIG i FAIL message". Exit 0.
 * </pre>
 *
 * <p>System property {@code probe.trust=entries} restricts trust to trustedCertEntry entries
 * (default {@code jdk}: what TrustManagerFactory.init(keystore) trusts).
 * The store type is strict (keystore.type.compat=false): a PKCS12 file does not load as JKS.
 */
public final class TlsProbe {
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};
    private static final int CONNECT_TIMEOUT_MS = 5_000;
    private static final int IO_TIMEOUT_MS = 10_000;
    private static final PrintStream OUT =
            new PrintStream(System.out, true, StandardCharsets.UTF_8);

    private TlsProbe() {}

    public static void main(String[] args) throws Exception {
        Security.setProperty("keystore.type.compat", "false");
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "server":
                if (args.length != 8) {
                    usage();
                }
                server(args);
                break;
            case "client":
                if (args.length != 7 && args.length != 8) {
                    usage();
                }
                String alias = args.length == 8 ? args[7] : "";
                Result r = handshake(args[1], Integer.parseInt(args[2]), args[3], args[4], args[5],
                        args[6], alias);
                if (r.connected) {
                    System.err.println("CONNECTED");
                }
                OUT.println(r.line);
                System.exit(r.ok ? 0 : 1);
                break;
            case "clients":
                clients();
                break;
            case "servers":
                servers();
                break;
            case "inspect":
                inspect();
                break;
            case "props":
                props();
                break;
            default:
                usage();
        }
    }

    private static void usage() {
        System.err.println("usage: TlsProbe server KEYSTORE TYPE STOREPW KEYPW ALIAS REQUIRE PORT");
        System.err.println("       TlsProbe client HOST PORT KEYSTORE TYPE STOREPW KEYPW [ALIAS]");
        System.err.println("       TlsProbe clients < lines");
        System.exit(64);
    }

    // ---------------------------------------------------------------- contexts

    static KeyStore load(String path, String type, String storePassword) throws Exception {
        KeyStore ks = KeyStore.getInstance(type);
        try (InputStream in = new FileInputStream(path)) {
            ks.load(in, storePassword.toCharArray());
        }
        return ks;
    }

    static String defaultTrust() {
        return System.getProperty("probe.trust", "jdk");
    }

    static KeyStore trustStore(KeyStore ks, String mode) throws Exception {
        if ("jdk".equals(mode)) {
            return ks;
        }
        if (!"entries".equals(mode)) {
            throw new IllegalArgumentException("probe.trust must be jdk or entries");
        }
        KeyStore only = KeyStore.getInstance("PKCS12");
        only.load(null, null);
        for (String alias : Collections.list(ks.aliases())) {
            if (ks.isCertificateEntry(alias)) {
                only.setCertificateEntry(alias, ks.getCertificate(alias));
            }
        }
        return only;
    }

    static SSLContext context(KeyStore ks, String keyPassword, String alias, String trust)
            throws Exception {
        KeyManagerFactory kmf =
                KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, keyPassword.toCharArray());
        KeyManager[] kms = kmf.getKeyManagers();
        if (!alias.isEmpty()) {
            for (int i = 0; i < kms.length; i++) {
                if (kms[i] instanceof X509KeyManager) {
                    kms[i] = new AliasKeyManager((X509KeyManager) kms[i], alias);
                }
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trustStore(ks, trust));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kms, tmf.getTrustManagers(), null);
        return ctx;
    }

    /** Always presents the configured alias, whatever the peer asks for. */
    static final class AliasKeyManager extends X509ExtendedKeyManager {
        private final X509KeyManager delegate;
        private final String alias;

        AliasKeyManager(X509KeyManager delegate, String alias) {
            this.delegate = delegate;
            this.alias = alias;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return new String[] {alias};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return alias;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return new String[] {alias};
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return alias;
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine e) {
            return alias;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine e) {
            return alias;
        }

        @Override
        public X509Certificate[] getCertificateChain(String a) {
            return delegate.getCertificateChain(a);
        }

        @Override
        public PrivateKey getPrivateKey(String a) {
            return delegate.getPrivateKey(a);
        }
    }

    // ---------------------------------------------------------------- server

    /** Opens the listening socket; throws on any configuration problem. */
    static SSLServerSocket listen(String path, String type, String storePassword,
            String keyPassword, String alias, boolean requireClientAuth, int port, String trust)
            throws Exception {
        KeyStore ks = load(path, type, storePassword);
        if (!ks.isKeyEntry(alias)) {
            throw new IllegalArgumentException("alias is not a key entry: " + alias);
        }
        SSLContext ctx = context(ks, keyPassword, alias, trust);
        SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket();
        ss.bind(new InetSocketAddress("127.0.0.1", port), 50);
        ss.setEnabledProtocols(PROTOCOLS);
        ss.setNeedClientAuth(requireClientAuth);
        return ss;
    }

    /** One connection at a time: the order of event lines is the order of connections. */
    static void serve(SSLServerSocket ss, boolean requireClientAuth, String prefix) {
        while (true) {
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.setSoTimeout(IO_TIMEOUT_MS);
                String line;
                try {
                    s.startHandshake();
                    String subject = "NONE";
                    if (requireClientAuth) {
                        Certificate[] peer = s.getSession().getPeerCertificates();
                        subject = ((X509Certificate) peer[0]).getSubjectX500Principal().getName();
                    }
                    OutputStream out = s.getOutputStream();
                    out.write('!');
                    out.flush();
                    line = "ACCEPT " + subject;
                } catch (Exception e) {
                    line = "REJECT " + describe(e);
                }
                OUT.println(prefix + line);
            } catch (Exception e) {
                OUT.println(prefix + "REJECT " + describe(e));
            }
        }
    }

    private static void exitOnStdinEof(BufferedReader in) {
        Thread watcher = new Thread(() -> {
            try {
                while (in.read() != -1) {
                    // drain until EOF
                }
            } catch (Exception ignored) {
                // treat like EOF
            }
            System.exit(0);
        }, "stdin-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void server(String[] args) throws Exception {
        boolean requireClientAuth = Boolean.parseBoolean(args[6]);
        SSLServerSocket ss;
        try {
            ss = listen(args[1], args[2], args[3], args[4], args[5], requireClientAuth,
                    Integer.parseInt(args[7]), defaultTrust());
        } catch (Exception e) {
            OUT.println("ERROR " + describe(e));
            System.exit(2);
            return;
        }
        OUT.println("PORT " + ss.getLocalPort());
        exitOnStdinEof(
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)));
        serve(ss, requireClientAuth, "");
    }

    /**
     * Several servers in one JVM. stdin: lines "KEYSTORE\tTYPE\tSTOREPW\tKEYPW\tALIAS\tREQUIRE\tTRUST"
     * then "END"; stdout: "PORT i n" or "ERROR i ..." per server, then "READY", then events
     * "EVENT i ACCEPT ..." / "EVENT i REJECT ...". Exits when stdin closes.
     */
    private static void servers() throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<String> configs = new ArrayList<>();
        for (String line = in.readLine(); line != null && !"END".equals(line);
                line = in.readLine()) {
            if (!line.isEmpty()) {
                configs.add(line);
            }
        }
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < configs.size(); i++) {
            String[] f = configs.get(i).split("\t", -1);
            try {
                if (f.length != 7) {
                    throw new IllegalArgumentException("bad server line");
                }
                boolean require = Boolean.parseBoolean(f[5]);
                SSLServerSocket ss = listen(f[0], f[1], f[2], f[3], f[4], require, 0, f[6]);
                OUT.println("PORT " + i + " " + ss.getLocalPort());
                String prefix = "EVENT " + i + " ";
                Thread t = new Thread(() -> serve(ss, require, prefix), "server-" + i);
                t.setDaemon(true);
                threads.add(t);
            } catch (Exception e) {
                OUT.println("ERROR " + i + " " + describe(e));
            }
        }
        OUT.println("READY");
        exitOnStdinEof(in);
        for (Thread t : threads) {
            t.start();
        }
        Thread.currentThread().join();
    }

    // ---------------------------------------------------------------- client

    static final class Result {
        final boolean ok;
        final boolean connected;
        final String line;

        Result(boolean ok, boolean connected, String line) {
            this.ok = ok;
            this.connected = connected;
            this.line = line;
        }
    }

    static Result handshake(String host, int port, String path, String type, String storePassword,
            String keyPassword, String alias) {
        boolean connected = false;
        try {
            KeyStore ks = load(path, type, storePassword);
            SSLContext ctx = context(ks, keyPassword, alias, defaultTrust());
            try (Socket raw = new Socket()) {
                raw.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                connected = true;
                raw.setSoTimeout(IO_TIMEOUT_MS);
                try (SSLSocket s = (SSLSocket) ctx.getSocketFactory()
                        .createSocket(raw, host, port, true)) {
                    s.setEnabledProtocols(PROTOCOLS);
                    s.startHandshake();
                    X509Certificate leaf =
                            (X509Certificate) s.getSession().getPeerCertificates()[0];
                    // TLS 1.3: the server checks our certificate after our handshake is done;
                    // a rejection arrives as an alert on the first read.
                    int b = s.getInputStream().read();
                    if (b != '!') {
                        return new Result(false, true,
                                "FAIL java.io.EOFException: server closed without data (" + b + ")");
                    }
                    return new Result(true, true, "OK "
                            + leaf.getSubjectX500Principal().getName() + " " + sha256(leaf));
                }
            }
        } catch (Exception e) {
            return new Result(false, connected, "FAIL " + describe(e));
        }
    }

    private static void clients() throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (!line.isEmpty()) {
                lines.add(line);
            }
        }
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t", -1);
            Result r;
            if (f.length != 7) {
                r = new Result(false, false, "FAIL java.lang.IllegalArgumentException: bad line");
            } else {
                r = handshake(f[0], Integer.parseInt(f[1]), f[2], f[3], f[4], f[5], f[6]);
            }
            OUT.println("RESULT " + i + " " + (r.connected ? 1 : 0) + " " + r.line);
        }
        System.exit(0);
    }

    // ---------------------------------------------------------------- inspect

    private static void inspect() throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int i = -1;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isEmpty()) {
                continue;
            }
            i++;
            String[] f = line.split("\t", -1);
            if (f.length != 4) {
                OUT.println("STORE " + i + " FAIL java.lang.IllegalArgumentException: bad line");
                continue;
            }
            KeyStore ks;
            List<String> aliases;
            try {
                ks = load(f[0], f[1], f[2]);
                aliases = Collections.list(ks.aliases());
                Collections.sort(aliases);
            } catch (Exception e) {
                OUT.println("STORE " + i + " FAIL " + describe(e));
                continue;
            }
            OUT.println("STORE " + i + " OK " + aliases.size());
            for (String alias : aliases) {
                String type;
                String key = "-";
                int chain = 0;
                X509Certificate cert = (X509Certificate) ks.getCertificate(alias);
                if (ks.isKeyEntry(alias)) {
                    type = "PrivateKeyEntry";
                    Certificate[] c = ks.getCertificateChain(alias);
                    chain = c == null ? 0 : c.length;
                    try {
                        key = ks.getKey(alias, f[3].toCharArray()) != null ? "key-ok" : "key-fail";
                    } catch (Exception e) {
                        key = "key-fail";
                    }
                } else if (ks.isCertificateEntry(alias)) {
                    type = "trustedCertEntry";
                    chain = 1;
                } else {
                    type = "other";
                }
                OUT.println("ENTRY " + i + " " + alias + " " + type + " "
                        + (cert == null ? "-" : sha256(cert)) + " " + chain + " " + key);
            }
        }
        System.exit(0);
    }

    // ---------------------------------------------------------------- props

    private static String required(Properties p, String key) {
        String value = p.getProperty(key);
        if (value == null) {
            throw new IllegalArgumentException("missing property " + key);
        }
        return value;
    }

    private static void props() throws Exception {
        BufferedReader in =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int i = -1;
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isEmpty()) {
                continue;
            }
            i++;
            String[] f = line.split("\t", -1);
            try {
                Properties p = new Properties();
                for (int k = 1; k < f.length; k++) {
                    try (InputStream pin = new FileInputStream(f[k])) {
                        p.load(pin);
                    }
                }
                String keystore = required(p, "pico.rcp.tls.keystore");
                String name = new File(keystore).getName();
                String type;
                if (name.endsWith(".jks")) {
                    type = "JKS";
                } else if (name.endsWith(".p12") || name.endsWith(".pfx")) {
                    type = "PKCS12";
                } else {
                    throw new IllegalArgumentException("unknown keystore extension: " + name);
                }
                String alias = p.getProperty("pico.rcp.tls.keystore.alias", "");
                String require = p.getProperty("pico.rcp.tls.require_clientauth", "false");
                OUT.println("CONFIG " + i + " OK\t" + new File(f[0], name).getPath() + "\t" + type
                        + "\t" + required(p, "pico.rcp.tls.keystore.password") + "\t"
                        + required(p, "pico.rcp.tls.key.password") + "\t" + alias + "\t"
                        + Boolean.parseBoolean(require.trim()));
            } catch (Exception e) {
                OUT.println("CONFIG " + i + " FAIL " + describe(e));
            }
        }
        System.exit(0);
    }

    // ---------------------------------------------------------------- helpers

    static String describe(Throwable e) {
        String msg = String.valueOf(e.getMessage()).replace('\n', ' ').replace('\r', ' ');
        return e.getClass().getName() + ": " + msg;
    }

    static String sha256(X509Certificate cert) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < d.length; i++) {
            if (i > 0) {
                sb.append(':');
            }
            sb.append(String.format("%02X", d[i]));
        }
        return sb.toString();
    }
}
