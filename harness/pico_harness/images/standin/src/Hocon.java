import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The part of HOCON that System Topology Registry fragments use, flattened to dotted keys:
 * objects ({@code a { b = 1 }} and {@code a.b = 1}), quoted keys that stay one key
 * ({@code "pico.rcp.tls.keystore" = ...}), quoted and unquoted values, {@code =} or {@code :},
 * separators by new line or comma, {@code #} and {@code //} comments, and substitutions
 * {@code ${VAR}} / {@code ${?VAR}} from the environment ({@code ${?VAR}} unset: no value). Arrays,
 * includes, concatenation and references to other keys are not supported (they fail loudly).
 */
final class Hocon {
    private final String text;
    private final Map<String, String> env;
    private int pos;

    private Hocon(String text, Map<String, String> env) {
        this.text = text;
        this.env = env;
    }

    static Map<String, String> parse(String text, Map<String, String> env) throws Fatal {
        Hocon parser = new Hocon(text, env);
        Map<String, String> out = new LinkedHashMap<>();
        parser.object("", out, false);
        return out;
    }

    private void object(String prefix, Map<String, String> out, boolean braced) throws Fatal {
        while (true) {
            skipBlank(true);
            if (pos >= text.length()) {
                if (braced) {
                    throw error("missing '}'");
                }
                return;
            }
            char ch = text.charAt(pos);
            if (ch == '}') {
                if (!braced) {
                    throw error("unexpected '}'");
                }
                pos++;
                return;
            }
            if (ch == ',') {
                pos++;
                continue;
            }
            String key = prefix + path();
            skipBlank(false);
            if (pos < text.length() && text.charAt(pos) == '{') {
                pos++;
                object(key + ".", out, true);
                continue;
            }
            if (pos >= text.length() || (text.charAt(pos) != '=' && text.charAt(pos) != ':')) {
                throw error("expected '=', ':' or '{' after " + key);
            }
            pos++;
            skipBlank(false);
            if (pos < text.length() && text.charAt(pos) == '{') {
                pos++;
                object(key + ".", out, true);
                continue;
            }
            String value = value();
            if (value != null) {
                out.put(key, value);
            } else {
                out.remove(key);
            }
        }
    }

    /** A key path: dot-separated parts, each quoted (kept whole) or unquoted. */
    private String path() throws Fatal {
        StringBuilder key = new StringBuilder();
        while (true) {
            if (pos < text.length() && text.charAt(pos) == '"') {
                key.append(quoted());
            } else {
                int start = pos;
                while (pos < text.length() && !"=:{}.,\"\n \t#".contains(
                        String.valueOf(text.charAt(pos)))) {
                    pos++;
                }
                if (start == pos) {
                    throw error("expected a key");
                }
                key.append(text, start, pos);
            }
            if (pos < text.length() && text.charAt(pos) == '.') {
                key.append('.');
                pos++;
            } else {
                return key.toString();
            }
        }
    }

    /** A value: quoted string, substitution or unquoted text to the end of the line. */
    private String value() throws Fatal {
        if (pos < text.length() && text.charAt(pos) == '"') {
            return quoted();
        }
        if (text.startsWith("${", pos)) {
            int end = text.indexOf('}', pos);
            if (end < 0) {
                throw error("unclosed substitution");
            }
            String name = text.substring(pos + 2, end);
            pos = end + 1;
            boolean optional = name.startsWith("?");
            name = optional ? name.substring(1) : name;
            String value = env.get(name);
            if (value == null && !optional) {
                throw error("substitution ${" + name + "} has no value in the environment");
            }
            return value;
        }
        if (pos < text.length() && text.charAt(pos) == '[') {
            throw error("arrays are not supported by the stand-in");
        }
        int start = pos;
        while (pos < text.length() && "\n,}#".indexOf(text.charAt(pos)) < 0
                && !text.startsWith("//", pos)) {
            pos++;
        }
        return text.substring(start, pos).strip();
    }

    private String quoted() throws Fatal {
        StringBuilder out = new StringBuilder();
        pos++; // opening quote
        while (pos < text.length()) {
            char ch = text.charAt(pos++);
            if (ch == '"') {
                return out.toString();
            }
            if (ch != '\\') {
                out.append(ch);
                continue;
            }
            if (pos >= text.length()) {
                break;
            }
            char esc = text.charAt(pos++);
            switch (esc) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'u' -> {
                    out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                }
                default -> out.append(esc); // \" \\ \/
            }
        }
        throw error("unclosed string");
    }

    private void skipBlank(boolean newlines) {
        while (pos < text.length()) {
            char ch = text.charAt(pos);
            if (ch == '#' || text.startsWith("//", pos)) {
                while (pos < text.length() && text.charAt(pos) != '\n') {
                    pos++;
                }
            } else if (ch == ' ' || ch == '\t' || ch == '\r' || (newlines && ch == '\n')) {
                pos++;
            } else {
                return;
            }
        }
    }

    private Fatal error(String message) {
        int line = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
            }
        }
        return new Fatal(Fatal.CONFIG, "topology file, line " + line + ": " + message);
    }
}
