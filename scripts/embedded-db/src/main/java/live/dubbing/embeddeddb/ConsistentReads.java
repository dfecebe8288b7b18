package live.dubbing.embeddeddb;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.AbstractMongoBackend;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

import java.util.Set;
import java.util.function.Supplier;

/**
 * Answers every read from one state of each document, as MongoDB does.
 *
 * <p>mongo-java-server updates a stored document in place, under its collection's lock, while a read's answer holds the
 * stored documents themselves and is encoded after that lock is let go. An update landing in between changes what the
 * answer says: a document found by {@code {resume_token_hash: h}} goes out carrying the token that replaced h, and a
 * document caught mid-update goes out half old, half new (a new {@code version} with old fields). Here a read runs,
 * and its answer is copied, under the lock of the collection it reads, which every write to that collection takes too.
 *
 * <p>Lock order: the collection's lock, then (inside the server's own code) the database's. The server never takes a
 * collection's lock while it holds the database's, so the two cannot deadlock. A cursor's later batches ({@code getMore})
 * are copied under the lock too: each document is whole, as it is then.
 */
final class ConsistentReads {

    /** Commands whose answers carry stored documents, and the field naming their collection. */
    private static final Set<String> READS = Set.of("find", "aggregate", "findAndModify", "findandmodify", "count", "distinct");

    private ConsistentReads() {
    }

    static Document handle(AbstractMongoBackend backend, String databaseName, String command, Document query,
                           Supplier<Document> run) {
        MongoCollection<?> collection = collectionRead(backend, databaseName, command, query);
        if (collection == null) {
            return run.get();
        }
        synchronized (collection) {
            return run.get().cloneDeeply();
        }
    }

    private static MongoCollection<?> collectionRead(AbstractMongoBackend backend, String databaseName, String command,
                                                     Document query) {
        Object name = command.equals("getMore") ? query.get("collection") : READS.contains(command) ? query.get(command) : null;
        if (!(name instanceof String collectionName)) {
            return null;
        }
        return backend.resolveDatabase(databaseName).resolveCollection(collectionName, false);
    }

    /** The in-memory backend (tests, benchmarks), with consistent reads. */
    static final class Memory extends MemoryBackend {
        @Override
        public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
            return handle(this, databaseName, command, query, () -> super.handleCommand(channel, databaseName, command, query));
        }
    }

    /** The file-backed backend (the embedded default), with consistent reads. */
    static final class H2 extends H2Backend {
        H2(String file) {
            super(file);
        }

        @Override
        public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
            return handle(this, databaseName, command, query, () -> super.handleCommand(channel, databaseName, command, query));
        }
    }
}
