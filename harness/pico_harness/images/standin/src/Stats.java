import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counters of connection outcomes, served as JSON on {@code GET /stats} (and {@code /healthz}).
 *
 * <p>Per outcome: count, first and last time (epoch milliseconds) and the last detail; the
 * current state (the last outcome) and every state change (the last 1000) with its time; per
 * peer subject, the outcomes seen (server side: which clients were accepted or refused).
 */
final class Stats {
    private static final int MAX_CHANGES = 1000;

    private final String role;
    private final String target;
    private final long since = System.currentTimeMillis();
    private final Map<Outcome, long[]> counts = new EnumMap<>(Outcome.class); // count, first, last
    private final Map<Outcome, String> details = new EnumMap<>(Outcome.class);
    private final Map<String, Map<Outcome, Long>> peers = new TreeMap<>();
    private final Deque<String> changes = new ArrayDeque<>();
    private Outcome state;
    private long total;

    Stats(String role, String target) {
        this.role = role;
        this.target = target;
    }

    /**
     * Count one outcome; log it when it changes the state (a {@code no_hello} never does).
     * Returns true on a state change.
     */
    synchronized boolean record(Outcome outcome, String peer, String detail) {
        long now = System.currentTimeMillis();
        total++;
        long[] c = counts.computeIfAbsent(outcome, o -> new long[] {0, now, now});
        c[0]++;
        c[2] = now;
        if (detail != null) {
            details.put(outcome, detail);
        }
        if (peer != null) {
            peers.computeIfAbsent(peer, p -> new EnumMap<>(Outcome.class))
                    .merge(outcome, 1L, Long::sum);
        }
        if (outcome == state || outcome == Outcome.NO_HELLO) {
            return false; // a TCP readiness probe is counted, but changes no state
        }
        String from = state == null ? "start" : state.key;
        Log.info("STATE " + role + " " + from + " -> " + outcome.key + " after " + total
                + " attempts" + (peer == null ? "" : " peer=" + peer)
                + (detail == null ? "" : " detail=" + detail));
        changes.addLast("{\"at\":" + now + ",\"from\":" + quote(from) + ",\"to\":"
                + quote(outcome.key) + ",\"detail\":" + quote(detail) + "}");
        if (changes.size() > MAX_CHANGES) {
            changes.removeFirst();
        }
        state = outcome;
        return true;
    }

    synchronized String json() {
        StringBuilder out = new StringBuilder();
        out.append("{\"role\":").append(quote(role)).append(",\"target\":").append(quote(target))
                .append(",\"since\":").append(since).append(",\"now\":")
                .append(System.currentTimeMillis()).append(",\"total\":").append(total)
                .append(",\"state\":").append(quote(state == null ? null : state.key))
                .append(",\"outcomes\":{");
        String sep = "";
        for (Map.Entry<Outcome, long[]> e : counts.entrySet()) {
            long[] c = e.getValue();
            out.append(sep).append(quote(e.getKey().key)).append(":{\"count\":").append(c[0])
                    .append(",\"first\":").append(c[1]).append(",\"last\":").append(c[2])
                    .append(",\"detail\":").append(quote(details.get(e.getKey()))).append('}');
            sep = ",";
        }
        out.append("},\"peers\":{");
        sep = "";
        for (Map.Entry<String, Map<Outcome, Long>> p : peers.entrySet()) {
            out.append(sep).append(quote(p.getKey())).append(":{");
            String inner = "";
            for (Map.Entry<Outcome, Long> o : p.getValue().entrySet()) {
                out.append(inner).append(quote(o.getKey().key)).append(':').append(o.getValue());
                inner = ",";
            }
            out.append('}');
            sep = ",";
        }
        out.append("},\"changes\":[").append(String.join(",", changes)).append("]}");
        return out.toString();
    }

    /** Serve /stats and /healthz on {@code port} (0: any free port). Returns the bound port. */
    int serve(String bind, int port) throws Fatal {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(bind, port), 16);
            server.createContext("/stats", exchange -> {
                byte[] body = json().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream os = exchange.getResponseBody()) {
                    os.write(body);
                }
            });
            server.createContext("/healthz", exchange -> {
                exchange.sendResponseHeaders(200, 2);
                try (OutputStream os = exchange.getResponseBody()) {
                    os.write("ok".getBytes(StandardCharsets.US_ASCII));
                }
            });
            server.start();
            return server.getAddress().getPort();
        } catch (IOException e) {
            throw new Fatal(Fatal.BIND, "cannot serve stats on " + bind + ":" + port + ": " + e);
        }
    }

    static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder("\"");
        for (char ch : text.toCharArray()) {
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (ch < 0x20) {
                        out.append(String.format("\\u%04x", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
