/**
 * A pico stand-in for tests: {@code StandinMain [platform|ec|desktop] (-e key=value)...}
 * (the role else from env PICO_ROLE). See tests/images/README.md.
 */
public final class StandinMain {
    private StandinMain() {}

    public static void main(String[] args) {
        int code;
        try {
            Settings settings = Settings.parse(args, System.getenv());
            code = switch (settings.role) {
                case "platform" -> PlatformRole.run(settings);
                case "ec" -> ClientRoles.runEc(settings);
                default -> ClientRoles.runDesktop(settings);
            };
        } catch (Fatal f) {
            Log.fatal(f.getMessage());
            code = f.exitCode;
        }
        System.exit(code);
    }
}
