import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/** One line per event on stdout: "time LEVEL message". Never given a password. */
final class Log {
    private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

    private Log() {}

    static synchronized void info(String message) {
        OUT.println(Instant.now() + " INFO " + message);
    }

    static synchronized void warn(String message) {
        OUT.println(Instant.now() + " WARN " + message);
    }

    static synchronized void fatal(String message) {
        OUT.println(Instant.now() + " FATAL " + message);
    }

    /** A machine-readable line (the desktop role's result), printed as is. */
    static synchronized void raw(String line) {
        OUT.println(line);
    }
}
