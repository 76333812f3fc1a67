import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.exception.MongoServerError;

import io.netty.channel.Channel;

/**
 * Command layer of the stand-in: makes the server look like a one-member replica set (hello/isMaster with setName,
 * sessions, operationTime and $clusterTime on replies), turns down transactions plainly, runs the write commands
 * through StandInWrites (each document changed and logged in one step), logs renames and dropped databases to the
 * oplog, serves database- and cluster-wide change streams, lets a change stream getMore wait for
 * events and adds postBatchResumeToken to its replies.
 */
final class StandInCommands {

    /** Calls the library's own handling of a command. */
    interface Next {
        Document handle(Channel channel, String databaseName, String command, Document query);
    }

    private static final Set<String> TRANSACTION_COMMANDS = Set.of("committransaction", "aborttransaction");
    private static final long DEFAULT_AWAIT_MS = 1000;
    private static final Set<String> WRITE_COMMANDS = Set.of("insert", "update", "delete", "findandmodify");
    private static final Set<String> SCHEMA_COMMANDS = Set.of("drop", "renamecollection", "dropdatabase");

    private final MongoBackend backend;
    private final String replicaSetName; // empty: report a standalone server
    private final String hostAndPort;
    private final MongoVersion version;
    private final ObjectId electionId = new ObjectId("7fffffff0000000000000001");
    private StandInOplog oplog;
    private StandInWrites writes;

    StandInCommands(MongoBackend backend, String replicaSetName, String hostAndPort, MongoVersion version) {
        this.backend = backend;
        this.replicaSetName = replicaSetName;
        this.hostAndPort = hostAndPort;
        this.version = version;
    }

    StandInOplog createOplog(CursorRegistry cursorRegistry, Clock clock, MVMap<Long, byte[]> persisted, int maxEntries) {
        oplog = new StandInOplog(backend, cursorRegistry, clock, persisted, maxEntries);
        writes = new StandInWrites(backend, oplog);
        return oplog;
    }

    Document handle(Channel channel, String db, String command, Document query, Next next) {
        String cmd = command.toLowerCase(Locale.ROOT);
        if (TRANSACTION_COMMANDS.contains(cmd) || query.containsKey("startTransaction")
            || query.containsKey("autocommit")) {
            // not 20 (IllegalOperation): the Node driver turns that into "does not support retryable writes"
            throw new MongoServerError(263, "OperationNotSupportedInTransaction",
                "Transactions are not supported by this MongoDB stand-in");
        }

        Document response;
        StandInOplog.POST_BATCH_RESUME_TOKEN.remove();
        if (cmd.equals("hello") || cmd.equals("ismaster")) {
            response = hello(cmd.equals("hello"));
        } else if (cmd.equals("replsetgetstatus") && !replicaSetName.isEmpty()) {
            response = replSetGetStatus();
        } else if (cmd.equals("getmore")) {
            Object maxTime = query.get("maxTimeMS");
            StandInOplog.AWAIT_MS.set(maxTime instanceof Number ? ((Number) maxTime).longValue() : DEFAULT_AWAIT_MS);
            try {
                response = next.handle(channel, db, command, query);
            } finally {
                StandInOplog.AWAIT_MS.remove();
            }
        } else if (cmd.equals("find") && oplog != null && db.equals("local") && "oplog.rs".equals(query.get(command))) {
            response = findInOplog(query);
        } else if (cmd.equals("aggregate") && isChangeStream(query)) {
            response = changeStream(db, command, query);
        } else if (cmd.equals("aggregate") && oplog != null && firstStage(query, "$currentOp")) {
            response = currentOp(db, command, query);
        } else if (writes != null && SCHEMA_COMMANDS.contains(cmd)) {
            AtomicReference<Document> reply = new AtomicReference<>();
            writes.inOneCommit(() -> reply.set(schemaChange(channel, db, cmd, command, query, next)));
            response = reply.get();
        } else if (writes != null && WRITE_COMMANDS.contains(cmd) && StandInWrites.isLogged(db, command, query)) {
            response = write(db, cmd, command, query);
        } else {
            response = next.handle(channel, db, command, query);
        }

        Document pbrt = StandInOplog.POST_BATCH_RESUME_TOKEN.get();
        StandInOplog.POST_BATCH_RESUME_TOKEN.remove();
        if (pbrt != null && response != null && response.get("cursor") instanceof Document) {
            ((Document) response.get("cursor")).put("postBatchResumeToken", pbrt);
        }
        if (response != null && oplog != null && !replicaSetName.isEmpty()) {
            BsonTimestamp clusterTime = oplog.clusterTime();
            response.put("operationTime", clusterTime);
            response.put("$clusterTime", new Document("clusterTime", clusterTime)
                .append("signature", new Document("hash", new BinData(new byte[20])).append("keyId", 0L)));
        }
        return response;
    }

    /** drop, renameCollection and dropDatabase with their oplog entries (the library logs only the drop itself). */
    private Document schemaChange(Channel channel, String db, String cmd, String command, Document query, Next next) {
        Document response = next.handle(channel, db, command, query);
        if (cmd.equals("renamecollection") && db.equals("admin")) {
            oplog.handleRename(String.valueOf(query.get(command)), String.valueOf(query.get("to")));
        } else if (cmd.equals("dropdatabase")) {
            oplog.handleDropDatabase(db);
        }
        return response;
    }

    /**
     * Commits the H2 store every delayMs, never in the middle of a change and its oplog entry (the store's own
     * auto-commit is off): after a kill -9 both are on disk or neither is.
     */
    void commitEvery(MVStore store, int delayMs) {
        ScheduledExecutorService committer = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "stand-in-commit");
            thread.setDaemon(true);
            return thread;
        });
        committer.scheduleWithFixedDelay(() -> writes.betweenChanges(() -> {
            try {
                if (!store.isClosed()) {
                    store.commit();
                }
            } catch (RuntimeException e) {
                // logged, not thrown: a thrown exception would end the schedule, and with it every later commit
                System.err.println("mongo stand-in: commit failed: " + e);
            }
        }), delayMs, delayMs, TimeUnit.MILLISECONDS);
    }

    private Document write(String db, String cmd, String command, Document query) {
        switch (cmd) {
            case "insert":
                return writes.insert(db, query);
            case "update":
                return writes.update(db, query);
            case "delete":
                return writes.delete(db, query);
            default:
                return writes.findAndModify(db, command, query);
        }
    }

    private static boolean isChangeStream(Document query) {
        return firstStage(query, "$changeStream");
    }

    private static boolean firstStage(Document query, String stage) {
        Object pipeline = query.get("pipeline");
        return pipeline instanceof List && !((List<?>) pipeline).isEmpty()
            && ((List<?>) pipeline).get(0) instanceof Document
            && ((Document) ((List<?>) pipeline).get(0)).containsKey(stage);
    }

    /**
     * {aggregate: 1, pipeline: [{$currentOp: {idleCursors: true, ...}}, ...]} on admin, as far as counting open
     * change streams needs it: one idleCursor document per open change stream cursor (ns, cursor.cursorId,
     * cursor.originatingCommand), the later stages run over them. No operations in progress are listed.
     */
    private Document currentOp(String db, String command, Document query) {
        if (!db.equals("admin")) {
            throw new MongoServerError(73, "InvalidNamespace", "$currentOp must be run against the 'admin' database with {aggregate: 1}");
        }
        @SuppressWarnings("unchecked")
        List<Document> pipeline = (List<Document>) query.get("pipeline");
        Object options = pipeline.get(0).get("$currentOp");
        boolean idleCursors = options instanceof Document && Utils.isTrue(((Document) options).get("idleCursors"));
        List<Document> listed = idleCursors ? oplog.openChangeStreams() : List.of();
        List<Document> out = listed;
        if (pipeline.size() > 1) {
            Aggregation aggregation = Aggregation.fromPipeline(pipeline.subList(1, pipeline.size()), backend::resolveDatabase,
                backend.resolveDatabase(db), null, oplog);
            out = aggregation.runStages(listed.stream());
        }
        Document cursorDocument = new Document("id", 0L).append("ns", "admin.$cmd.aggregate").append("firstBatch", out);
        Document response = new Document("cursor", cursorDocument);
        Utils.markOkay(response);
        return response;
    }

    /** A change stream on a collection ({aggregate: "coll"}), a database ({aggregate: 1}) or the deployment. */
    private Document changeStream(String db, String command, Document query) {
        if (oplog == null) {
            throw new MongoServerError(40573, "Location40573", "The $changeStream stage is only supported on replica sets");
        }
        @SuppressWarnings("unchecked")
        List<Document> pipeline = (List<Document>) query.get("pipeline");
        Document options = (Document) pipeline.get(0).get("$changeStream");
        // $changeStreamSplitLargeEvent (MongoDB 7.0, 6.0.9) splits events over 16 MiB into fragments; it has to be
        // the last stage. Without it such an event fails the stream (BSONObjectTooLarge), as in MongoDB.
        for (int i = 1; i < pipeline.size(); i++) {
            if (pipeline.get(i).containsKey("$changeStreamSplitLargeEvent") && i != pipeline.size() - 1) {
                throw new MongoServerError(2, "BadValue",
                    "$changeStreamSplitLargeEvent can only appear at the end of the pipeline");
            }
        }
        boolean split = pipeline.size() > 1 && pipeline.get(pipeline.size() - 1).containsKey("$changeStreamSplitLargeEvent");
        if (split) {
            pipeline = pipeline.subList(0, pipeline.size() - 1);
        }
        Object target = query.get(command);
        String coll = target instanceof String ? (String) target : null;
        boolean cluster = Utils.isTrue(options.get("allChangesForCluster"));
        if (coll == null && cluster != db.equals("admin")) {
            throw new MongoServerError(73, "InvalidNamespace", cluster
                ? "$changeStream with allChangesForCluster must be run on the admin database"
                : "$changeStream may not be opened on the internal admin database");
        }
        MongoDatabase database = backend.resolveDatabase(db);
        MongoCollection<?> collection = coll == null ? null : database.resolveCollection(coll, false);
        StandInHashedKeys hashedKeys = new StandInHashedKeys();
        Aggregation aggregation = null;
        if (pipeline.size() > 1) {
            List<Document> stages = hashedKeys.rewrite(pipeline.subList(1, pipeline.size()));
            aggregation = Aggregation.fromPipeline(stages, backend::resolveDatabase, database, collection, oplog);
            aggregation.validate(query);
        }
        Document originating = new Document("aggregate", query.get(command)).append("pipeline", query.get("pipeline"));
        Cursor cursor = oplog.createCursor(options, cluster ? null : db, coll, aggregation, hashedKeys, split, originating);
        Object cursorOptions = query.get("cursor");
        Object batchSize = cursorOptions instanceof Document ? ((Document) cursorOptions).get("batchSize") : null;
        List<Document> firstBatch = cursor.takeDocuments(batchSize instanceof Number ? ((Number) batchSize).intValue() : 0);
        Document cursorDocument = new Document("id", cursor.isEmpty() ? 0L : cursor.getId())
            .append("ns", db + "." + (coll != null ? coll : "$cmd.aggregate"))
            .append("firstBatch", firstBatch);
        Document response = new Document("cursor", cursorDocument);
        Utils.markOkay(response);
        return response;
    }

    /**
     * find on local.oplog.rs, as far as monitoring uses it: no filter, sorted by {$natural: 1} (oldest first, the
     * default) or {$natural: -1}, with a limit; one batch, projection ignored. Anything else is refused rather than
     * answered wrongly.
     */
    private Document findInOplog(Document query) {
        Object filter = query.get("filter");
        Object sort = query.get("sort");
        if (filter instanceof Document && !((Document) filter).isEmpty()
            || sort instanceof Document && !((Document) sort).isEmpty() && !((Document) sort).keySet().equals(Set.of("$natural"))) {
            throw new MongoServerError(2, "BadValue",
                "this MongoDB stand-in answers a find on local.oplog.rs only without a filter, sorted by $natural");
        }
        boolean newestFirst = sort instanceof Document && ((Document) sort).get("$natural") instanceof Number
            && ((Number) ((Document) sort).get("$natural")).intValue() < 0;
        Object limit = query.get("limit");
        int max = limit instanceof Number && ((Number) limit).intValue() > 0 ? ((Number) limit).intValue() : Integer.MAX_VALUE;
        Document cursorDocument = new Document("id", 0L).append("ns", "local.oplog.rs")
            .append("firstBatch", oplog.fromEnd(newestFirst, max));
        Document response = new Document("cursor", cursorDocument);
        Utils.markOkay(response);
        return response;
    }

    private Document replSetGetStatus() {
        BsonTimestamp ts = oplog != null ? oplog.clusterTime() : new BsonTimestamp(0L);
        Document opTime = new Document("ts", ts).append("t", 1L);
        Document member = new Document("_id", 0).append("name", hostAndPort).append("health", 1.0)
            .append("state", 1).append("stateStr", "PRIMARY").append("optime", opTime)
            .append("optimeDate", Instant.ofEpochSecond(ts.getTime())).append("self", Boolean.TRUE);
        Document response = new Document("set", replicaSetName).append("date", Instant.now())
            .append("myState", 1).append("term", 1L)
            .append("optimes", new Document("lastCommittedOpTime", opTime).append("appliedOpTime", opTime)
                .append("durableOpTime", opTime))
            .append("members", List.of(member));
        Utils.markOkay(response);
        return response;
    }

    private Document hello(boolean helloCommand) {
        Document response = new Document();
        if (helloCommand) {
            response.append("isWritablePrimary", Boolean.TRUE);
        } else {
            response.append("ismaster", Boolean.TRUE);
        }
        if (!replicaSetName.isEmpty()) {
            response.append("hosts", List.of(hostAndPort))
                .append("setName", replicaSetName)
                .append("setVersion", 1)
                .append("secondary", Boolean.FALSE)
                .append("primary", hostAndPort)
                .append("electionId", electionId);
            if (oplog != null) {
                BsonTimestamp ts = oplog.clusterTime();
                Instant when = Instant.ofEpochSecond(ts.getTime());
                Document opTime = new Document("ts", ts).append("t", 1L);
                response.append("lastWrite", new Document("opTime", opTime).append("lastWriteDate", when)
                    .append("majorityOpTime", opTime).append("majorityWriteDate", when));
            }
            response.append("logicalSessionTimeoutMinutes", 30);
        }
        response.append("helloOk", Boolean.TRUE)
            .append("maxBsonObjectSize", 16 * 1024 * 1024)
            .append("maxMessageSizeBytes", 48_000_000)
            .append("maxWriteBatchSize", 100_000)
            .append("localTime", Instant.now())
            .append("minWireVersion", 0)
            .append("maxWireVersion", version.getWireVersion())
            .append("readOnly", Boolean.FALSE);
        Utils.markOkay(response);
        return response;
    }
}
