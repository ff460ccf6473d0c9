/**
 * What one TLS connection attempt came to, seen from the side that records it.
 *
 * <p>{@code TLS_REJECTED_BY_PEER}: the other side sent a fatal alert (it did not accept our
 * certificate, or had none it liked). {@code TLS_REJECTED_PEER}: our own trust manager refused the
 * other side's certificate. The desktop role exits with {@link #exitCode}.
 */
enum Outcome {
    OK("ok", 0),
    TLS_REJECTED_BY_PEER("tls_rejected_by_peer", 10),
    TLS_REJECTED_PEER("tls_rejected_peer", 11),
    TLS_ERROR("tls_error", 12),
    REFUSED("refused", 20),
    RESET("reset", 21),
    TIMEOUT("timeout", 22),
    DNS("dns", 23),
    IO_ERROR("io_error", 24),
    /** Server side only: the connection closed before any TLS record (a plain TCP probe). */
    NO_HELLO("no_hello", 25);

    final String key;
    final int exitCode;

    Outcome(String key, int exitCode) {
        this.key = key;
        this.exitCode = exitCode;
    }
}
