/** A startup error that ends the process with a distinct exit code (and says what to fix). */
final class Fatal extends Exception {
    private static final long serialVersionUID = 1L;
    static final int CONFIG = 2;
    static final int KEYSTORE = 3;
    static final int BIND = 4;

    final int exitCode;

    Fatal(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    Fatal(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }
}
