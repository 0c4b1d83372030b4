package dev.outpost.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code outpost} launcher: one command with a subcommand per job. */
@Command(name = "outpost",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Outpost: an offline-first sync engine. Run a sync server, issue tokens, or watch devices sync in a demo.",
        subcommands = {ServerCommand.class, TokenCommand.class, DemoCommand.class, ClientCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code: 0 success, 1 failure, 2 bad usage. */
    static int run(String... args) {
        return run(System.getenv(), args);
    }

    /** As {@link #run(String...)}, with {@code environment} read instead of the process's (OUTPOST_TOKEN). */
    static int run(java.util.Map<String, String> environment, String... args) {
        CommandLine.IFactory defaults = CommandLine.defaultFactory();
        CommandLine line = new CommandLine(new Main(), new CommandLine.IFactory() {
            @Override
            @SuppressWarnings("unchecked")
            public <K> K create(Class<K> type) throws Exception {
                return type == ClientCommand.class ? (K) new ClientCommand(environment) : defaults.create(type);
            }
        });
        line.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("outpost " + cmd.getCommandName() + ": " + e.getMessage());
            return 1;
        });
        return line.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"outpost " + (version == null ? "development build" : version)};
        }
    }
}
