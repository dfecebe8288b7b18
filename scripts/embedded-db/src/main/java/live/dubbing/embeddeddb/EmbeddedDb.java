package live.dubbing.embeddeddb;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * Starts mongo-java-server on a port and prints one line, {@code MONGODB_URI=<uri>}, once it accepts connections.
 *
 * <p>Arguments: {@code --backend memory|h2}, {@code --file <path>} (h2), {@code --host}, {@code --port} (0 = free port),
 * {@code --parent-pid <pid>} (exit when that process is gone), {@code --exit-on-stdin-close}.
 */
public final class EmbeddedDb {

    /** MongoDB 4.4 speaks wire version 9; the stock "5.0" constant reports 8, which current drivers refuse. */
    static final MongoVersion MONGO_4_4 = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    private EmbeddedDb() {
    }

    public static void main(String[] args) throws Exception {
        Options options = Options.parse(args);
        MongoBackend backend = openBackend(options).version(MONGO_4_4);
        MongoServer server = new MongoServer(backend);
        server.bind(options.host, options.port);
        InetSocketAddress address = server.getLocalAddress();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            stopped.countDown();
        }, "embedded-db-shutdown"));
        if (options.parentPid > 0) {
            watchParent(options.parentPid);
        }
        if (options.exitOnStdinClose) {
            watchStdin();
        }

        System.out.println("MONGODB_URI=mongodb://" + options.host + ":" + address.getPort());
        System.out.flush();
        stopped.await();
    }

    private static MongoBackend openBackend(Options options) throws IOException {
        if (options.backend.equals("memory")) {
            return new ConsistentReads.Memory();
        }
        Path file = Path.of(options.file).toAbsolutePath();
        Files.createDirectories(file.getParent());
        return new ConsistentReads.H2(file.toString());
    }

    private static void watchParent(long pid) {
        Thread watcher = new Thread(() -> {
            while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                sleepQuietly(500);
            }
            System.exit(0);
        }, "embedded-db-parent-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void watchStdin() {
        Thread watcher = new Thread(() -> {
            try (InputStream in = System.in) {
                while (in.read() != -1) {
                    // input is ignored; only its end matters
                }
            } catch (IOException ignored) {
                // a broken pipe means the parent is gone too
            }
            System.exit(0);
        }, "embedded-db-stdin-watch");
        watcher.setDaemon(true);
        watcher.start();
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private record Options(String backend, String file, String host, int port, long parentPid, boolean exitOnStdinClose) {

        static Options parse(String[] args) {
            String backend = "memory";
            String file = null;
            String host = "127.0.0.1";
            int port = 0;
            long parentPid = 0;
            boolean exitOnStdinClose = false;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--backend" -> backend = value(args, ++i);
                    case "--file" -> file = value(args, ++i);
                    case "--host" -> host = value(args, ++i);
                    case "--port" -> port = Integer.parseInt(value(args, ++i));
                    case "--parent-pid" -> parentPid = Long.parseLong(value(args, ++i));
                    case "--exit-on-stdin-close" -> exitOnStdinClose = true;
                    default -> fail("unknown argument " + args[i]);
                }
            }
            if (!backend.equals("memory") && !backend.equals("h2")) {
                fail("--backend must be memory or h2");
            }
            if (backend.equals("h2") && file == null) {
                fail("--backend h2 needs --file <path>");
            }
            return new Options(backend, file, host, port, parentPid, exitOnStdinClose);
        }

        private static String value(String[] args, int i) {
            if (i >= args.length) {
                fail("missing value for " + args[i - 1]);
            }
            return args[i];
        }

        private static void fail(String message) {
            System.err.println("embedded-db: " + message);
            System.exit(2);
        }
    }
}
