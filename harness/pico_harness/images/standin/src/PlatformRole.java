import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The Platform: a TLS server on {@code pico.rcp.platform.port} (6790) with the key entry named by
 * {@code pico.rcp.tls.keystore.alias}. Client certificates are required exactly when
 * {@code pico.rcp.tls.require_clientauth=true}; otherwise they are not requested at all. The
 * keystore is read once at start; a changed file takes effect only after a restart.
 */
final class PlatformRole {
    private PlatformRole() {}

    static int run(Settings settings) throws Fatal {
        String keystore = settings.require(Settings.KEYSTORE);
        Stores stores = Stores.load(Path.of(keystore), settings.storePassword(),
                settings.keyPassword(), settings.get(Settings.ALIAS), false);
        boolean required = settings.flag(Settings.REQUIRE_CLIENT_AUTH);
        String bind = settings.get("standin.bind", "0.0.0.0");
        int port = settings.integer(Settings.PLATFORM_PORT, 6790);
        int ioTimeout = settings.integer("standin.io.timeout.ms", 10_000);
        SSLServerSocket server = listen(stores, bind, port, required);
        Stats stats = new Stats("platform", bind + ":" + server.getLocalPort());
        int http = stats.serve(bind, settings.integer("standin.http.port", 9090));
        Log.info("READY role=platform rcp=" + server.getLocalPort() + " http=" + http
                + " alias=" + stores.alias + " subject=" + stores.subject()
                + " require_clientauth=" + required + " keystore=" + keystore
                + " type=" + stores.type);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        while (true) {
            try {
                SSLSocket socket = (SSLSocket) server.accept();
                pool.execute(() -> {
                    Attempt a = Attempt.accept(socket, stores.alias, ioTimeout);
                    stats.record(a.outcome, a.peer, a.outcome == Outcome.OK ? null : a.detail);
                });
            } catch (IOException e) {
                Log.warn("accept failed: " + e);
            }
        }
    }

    private static SSLServerSocket listen(Stores stores, String bind, int port, boolean required)
            throws Fatal {
        try {
            SSLServerSocket server =
                    (SSLServerSocket) stores.context().getServerSocketFactory().createServerSocket();
            server.setReuseAddress(true);
            server.setEnabledProtocols(Attempt.PROTOCOLS);
            if (required) {
                server.setNeedClientAuth(true);
            } else {
                server.setWantClientAuth(false);
            }
            server.bind(new InetSocketAddress(bind, port), 128);
            return server;
        } catch (IOException e) {
            throw new Fatal(Fatal.BIND, "cannot listen on " + bind + ":" + port + ": " + e);
        }
    }
}
