import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The settings of one stand-in process, taken the ways a pico instance takes them.
 *
 * <ol>
 *   <li>the active System Topology Registry files under {@code $MZ_HOME} ({@link Topology});
 *   <li>{@code .properties} files listed in env {@code PICO_PROPERTIES_FILES} (separated by ',' or
 *       ':'), loaded in order with {@link Properties#load}; a later file wins;
 *   <li>{@code -e key=value} arguments (as {@code mzsh startup -e}); later sources win.
 * </ol>
 *
 * <p>Passwords: {@code pico.rcp.tls.keystore.password} / {@code pico.rcp.tls.key.password} from
 * the above, else env {@code PICO_RCP_TLS_KEYSTORE_PASSWORD} / {@code PICO_RCP_TLS_KEY_PASSWORD};
 * the key password defaults to the store password. Each is tried as given, then base64-decoded
 * (see {@link #candidates}).
 */
final class Settings {
    static final String KEYSTORE = "pico.rcp.tls.keystore";
    static final String STORE_PASSWORD = "pico.rcp.tls.keystore.password";
    static final String KEY_PASSWORD = "pico.rcp.tls.key.password";
    static final String ALIAS = "pico.rcp.tls.keystore.alias";
    static final String REQUIRE_CLIENT_AUTH = "pico.rcp.tls.require_clientauth";
    static final String PLATFORM_HOST = "pico.rcp.platform.host";
    static final String PLATFORM_PORT = "pico.rcp.platform.port";
    static final String STORE_PASSWORD_ENV = "PICO_RCP_TLS_KEYSTORE_PASSWORD";
    static final String KEY_PASSWORD_ENV = "PICO_RCP_TLS_KEY_PASSWORD";
    static final String FILES_ENV = "PICO_PROPERTIES_FILES";
    static final String ROLE_ENV = "PICO_ROLE";

    final String role;
    private final Properties props;
    private final Map<String, String> env;

    private Settings(String role, Properties props, Map<String, String> env) {
        this.role = role;
        this.props = props;
        this.env = env;
    }

    /**
     * Arguments: {@code [platform|ec|desktop] (-e key=value)...}; the role else from PICO_ROLE,
     * else {@code ec} when {@code pico.rcp.platform.host} is set and {@code platform} otherwise.
     */
    static Settings parse(String[] args, Map<String, String> env) throws Fatal {
        Properties props = new Properties();
        Topology.load(props, env);
        for (String file : propertyFiles(env.getOrDefault(FILES_ENV, ""))) {
            load(props, Path.of(file));
        }
        String role = env.get(ROLE_ENV);
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("-e")) {
                if (i + 1 == args.length) {
                    throw new Fatal(Fatal.CONFIG, "-e needs key=value");
                }
                define(props, args[++i]);
            } else if (arg.startsWith("-e") && arg.contains("=")) {
                define(props, arg.substring(2));
            } else if (!arg.startsWith("-")) {
                role = arg;
            } else {
                throw new Fatal(Fatal.CONFIG, "unknown argument " + arg + " (use -e key=value)");
            }
        }
        if (role == null) {
            // as the operator's output differs: only an Execution Container is told its Platform
            role = props.getProperty(PLATFORM_HOST, "").isEmpty() ? "platform" : "ec";
            Log.info("role " + role + " (no role given; " + PLATFORM_HOST
                    + (role.equals("ec") ? " is set)" : " is not set)"));
        }
        if (!List.of("platform", "ec", "desktop").contains(role)) {
            throw new Fatal(Fatal.CONFIG, "role must be platform, ec or desktop (argument or "
                    + ROLE_ENV + "), got " + role);
        }
        return new Settings(role, props, env);
    }

    private static List<String> propertyFiles(String list) {
        List<String> files = new ArrayList<>();
        for (String part : list.split("[,:]")) {
            if (!part.isBlank()) {
                files.add(part.trim());
            }
        }
        return files;
    }

    private static void load(Properties props, Path file) throws Fatal {
        try (InputStream in = Files.newInputStream(file)) {
            props.load(in);
            Log.info("read properties " + file);
        } catch (IOException e) {
            throw new Fatal(Fatal.CONFIG, "cannot read properties file " + file + ": " + e);
        }
    }

    private static void define(Properties props, String pair) throws Fatal {
        int eq = pair.indexOf('=');
        if (eq <= 0) {
            throw new Fatal(Fatal.CONFIG, "-e needs key=value, got a value without '='");
        }
        props.setProperty(pair.substring(0, eq).trim(), pair.substring(eq + 1));
    }

    String get(String key) {
        String value = props.getProperty(key);
        return value == null || value.isEmpty() ? null : value;
    }

    String get(String key, String fallback) {
        String value = get(key);
        return value == null ? fallback : value;
    }

    String require(String key) throws Fatal {
        String value = get(key);
        if (value == null) {
            throw new Fatal(Fatal.CONFIG, "property " + key + " is not set");
        }
        return value;
    }

    int integer(String key, int fallback) throws Fatal {
        String value = get(key);
        try {
            return value == null ? fallback : Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new Fatal(Fatal.CONFIG, "property " + key + " is not a number: " + value);
        }
    }

    boolean flag(String key) {
        return "true".equalsIgnoreCase(get(key, "false").trim());
    }

    String env(String name) {
        String value = env.get(name);
        return value == null || value.isEmpty() ? null : value;
    }

    /** The store password (property, else env), or null. */
    String storePassword() {
        String value = get(STORE_PASSWORD);
        return value != null ? value : env(STORE_PASSWORD_ENV);
    }

    /** The key password (property, else env, else the store password), or null. */
    String keyPassword() {
        String value = get(KEY_PASSWORD);
        if (value == null) {
            value = env(KEY_PASSWORD_ENV);
        }
        return value != null ? value : storePassword();
    }

    /**
     * The password rule: the value as given first, then its base64 decoding (standard alphabet,
     * UTF-8) when it is valid base64 of valid UTF-8 text. A public pico entrypoint sends base64,
     * the operator's properties hold plain text; a store that opens with either is accepted.
     */
    static List<char[]> candidates(String value) {
        List<char[]> out = new ArrayList<>();
        if (value == null) {
            out.add(new char[0]);
            return out;
        }
        out.add(value.toCharArray());
        String decoded = decodeBase64(value.trim());
        if (decoded != null && !decoded.equals(value)) {
            out.add(decoded.toCharArray());
        }
        return out;
    }

    private static String decodeBase64(String value) {
        if (value.isEmpty() || value.length() % 4 != 0) {
            return null;
        }
        try {
            byte[] bytes = Base64.getDecoder().decode(value);
            String text = new String(bytes, StandardCharsets.UTF_8);
            byte[] again = text.getBytes(StandardCharsets.UTF_8);
            return java.util.Arrays.equals(bytes, again) ? text : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
