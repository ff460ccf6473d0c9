import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The active System Topology Registry, as a pico reads it when it starts: with {@code MZ_HOME}
 * and {@code MZ_CONTAINER} set, the {@code common} block of
 * {@code $MZ_HOME/common/config/cell/.active/cell.conf}, then of
 * {@code .active/containers/$MZ_CONTAINER/container.conf}, then of
 * {@code .active/containers/$MZ_CONTAINER/picos/<pico>.conf} (pico: the host name), later files
 * winning. Missing files are skipped; {@code ${?VAR}} substitutions come from the environment.
 * (The image's entrypoint copies {@code /etc/config/*} there, as the public EC entrypoint does.)
 */
final class Topology {
    private static final String COMMON = "common.";

    private Topology() {}

    static void load(Properties props, Map<String, String> env) throws Fatal {
        String home = env.get("MZ_HOME");
        String container = env.get("MZ_CONTAINER");
        if (home == null || home.isEmpty() || container == null || container.isEmpty()) {
            return;
        }
        Path active = Path.of(home, "common", "config", "cell", ".active");
        Path own = active.resolve("containers").resolve(container);
        for (Path file : List.of(active.resolve("cell.conf"), own.resolve("container.conf"),
                own.resolve("picos").resolve(picoName(env) + ".conf"))) {
            if (Files.isRegularFile(file)) {
                int n = apply(props, file, env);
                Log.info("read topology " + file + " (" + n + " common properties)");
            }
        }
    }

    private static int apply(Properties props, Path file, Map<String, String> env) throws Fatal {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new Fatal(Fatal.CONFIG, "cannot read topology file " + file + ": " + e);
        }
        int n = 0;
        Map<String, String> flat;
        try {
            flat = Hocon.parse(text, env);
        } catch (Fatal e) {
            throw new Fatal(Fatal.CONFIG, file + ": " + e.getMessage());
        }
        for (Map.Entry<String, String> e : flat.entrySet()) {
            if (e.getKey().startsWith(COMMON)) {
                props.setProperty(e.getKey().substring(COMMON.length()), e.getValue());
                n++;
            }
        }
        return n;
    }

    private static String picoName(Map<String, String> env) {
        String host = env.get("HOSTNAME");
        if (host != null && !host.isEmpty()) {
            return host;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "pico";
        }
    }
}
