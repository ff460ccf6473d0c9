import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;

/**
 * The Execution Container (connects to the Platform several times a second, counts outcomes on
 * {@code /stats}) and the desktop (connects once, prints one JSON line, exits with the outcome's
 * code: 0 ok, 10 refused by the Platform's TLS, 11 we refused the Platform's certificate,
 * 12 other TLS error, 20 connection refused, 21 reset, 22 timeout, 23 DNS failure, 24 other I/O).
 */
final class ClientRoles {
    private ClientRoles() {}

    static int runEc(Settings settings) throws Fatal {
        String host = settings.require(Settings.PLATFORM_HOST);
        int port = settings.integer(Settings.PLATFORM_PORT, 6790);
        String keystore = settings.get(Settings.KEYSTORE);
        if (keystore == null) {
            throw new Fatal(Fatal.CONFIG, Settings.KEYSTORE + " is not set (the stand-in speaks "
                    + "TLS only)");
        }
        Stores stores = Stores.load(Path.of(keystore), settings.storePassword(),
                settings.keyPassword(), settings.get(Settings.ALIAS), true);
        stores.context(); // fails at start, not in the loop, if the store cannot serve TLS
        int interval = settings.integer("standin.interval.ms", 200);
        int connectTimeout = settings.integer("standin.connect.timeout.ms", 2_000);
        int ioTimeout = settings.integer("standin.io.timeout.ms", 5_000);
        Stats stats = new Stats("ec", host + ":" + port);
        int http = stats.serve(settings.get("standin.bind", "0.0.0.0"),
                settings.integer("standin.http.port", 9090));
        Log.info("READY role=ec target=" + host + ":" + port + " http=" + http + " alias="
                + stores.alias + " subject=" + stores.subject() + " keystore=" + keystore
                + " type=" + stores.type + " interval_ms=" + interval);
        while (true) {
            // a fresh context (empty session cache) each time: no resumption, every attempt is a
            // full handshake checked against the stores
            Attempt a = Attempt.connect(stores.context(), host, port, connectTimeout, ioTimeout);
            stats.record(a.outcome, a.peer, a.outcome == Outcome.OK ? null : a.detail);
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                return 0;
            }
        }
    }

    /**
     * Files of the {@code <name>-desktop-key} Secret in {@code standin.desktop.dir} (env
     * PICO_DESKTOP_KEY_DIR, default /etc/pico/desktop): keystore.p12 or keystore.jks,
     * keystore.password, key.password, platform.crt (also trusted when present). Properties and
     * env given the usual way win over the files.
     */
    static int runDesktop(Settings settings) throws Fatal {
        Path dir = Path.of(settings.get("standin.desktop.dir",
                orDefault(settings.env("PICO_DESKTOP_KEY_DIR"), "/etc/pico/desktop")));
        String host = settings.require(Settings.PLATFORM_HOST);
        int port = settings.integer(Settings.PLATFORM_PORT, 6790);
        Path keystore = settings.get(Settings.KEYSTORE) != null
                ? Path.of(settings.get(Settings.KEYSTORE)) : desktopStore(dir);
        String storePassword = orDefault(settings.storePassword(), read(dir, "keystore.password"));
        String keyPassword = settings.get(Settings.KEY_PASSWORD) != null
                ? settings.get(Settings.KEY_PASSWORD)
                : orDefault(settings.env(Settings.KEY_PASSWORD_ENV),
                        orDefault(read(dir, "key.password"), storePassword));
        Stores stores = Stores.load(keystore, storePassword, keyPassword,
                settings.get(Settings.ALIAS), false);
        Path platformCrt = dir.resolve("platform.crt");
        if (Files.isRegularFile(platformCrt)) {
            stores.trustAlso(platformCrt);
        }
        Attempt a = Attempt.connect(stores.context(), host, port,
                settings.integer("standin.connect.timeout.ms", 5_000),
                settings.integer("standin.io.timeout.ms", 10_000));
        Log.raw("{\"role\":\"desktop\",\"target\":" + Stats.quote(host + ":" + port)
                + ",\"subject\":" + Stats.quote(stores.subject()) + ",\"outcome\":"
                + Stats.quote(a.outcome.key) + ",\"peer\":" + Stats.quote(a.peer)
                + ",\"detail\":" + Stats.quote(a.detail) + ",\"exit\":" + a.outcome.exitCode
                + "}");
        return a.outcome.exitCode;
    }

    private static Path desktopStore(Path dir) throws Fatal {
        for (String name : new String[] {"keystore.p12", "keystore.jks"}) {
            if (Files.isRegularFile(dir.resolve(name))) {
                return dir.resolve(name);
            }
        }
        throw new Fatal(Fatal.CONFIG, "no keystore.p12 or keystore.jks in " + dir + " and "
                + Settings.KEYSTORE + " is not set");
    }

    private static String read(Path dir, String name) throws Fatal {
        Path file = dir.resolve(name);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return Files.readString(file, StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new Fatal(Fatal.CONFIG, "cannot read " + file + ": " + e);
        }
    }

    private static String orDefault(String value, String fallback) {
        return value != null ? value : fallback;
    }
}
