import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.h2.mvstore.MVMap;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.AbstractCursor;
import de.bwaldvogel.mongo.backend.Cursor;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.backend.aggregation.Aggregation;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.oplog.Oplog;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The stand-in's own oplog, replacing the library's collection-backed one so that change events look like those of
 * a MongoDB replica set: documentKey, ns, wallTime, updateDescription, replace/rename/dropDatabase/invalidate events,
 * postBatchResumeToken, awaiting getMore, ChangeStreamHistoryLost for positions before the oldest entry, and
 * database- and cluster-wide streams.
 *
 * <p>Entries are kept in memory, ordered by their timestamp; with the H2 backend they are also written, BSON-encoded,
 * to a map of the same file, so that they survive a restart together with the data. Timestamps are (wall-clock
 * seconds, increment) like MongoDB's, strictly increasing even across restarts.
 */
final class StandInOplog implements Oplog {

    /** Set by the command layer for a getMore: how long an empty change stream batch may wait for new events. */
    static final ThreadLocal<Long> AWAIT_MS = new ThreadLocal<>();
    /** Set by a change stream cursor after each batch, read (and cleared) by the command layer. */
    static final ThreadLocal<Document> POST_BATCH_RESUME_TOKEN = new ThreadLocal<>();

    private static final int DEFAULT_BATCH = 1000;
    /** MongoDB's largest change event (BSONObjectTooLarge above it). */
    private static final int MAX_EVENT_BYTES = 16 * 1024 * 1024;
    private static final Set<String> INTERNAL_DATABASES = Set.of("admin", "local", "config");

    private final MongoBackend backend;
    private final CursorRegistry cursorRegistry;
    private final Clock clock;
    private final MVMap<Long, byte[]> persisted; // null: memory only
    private final int maxEntries;                // 0: unlimited
    private final ConcurrentSkipListMap<Long, Document> entries = new ConcurrentSkipListMap<>();
    private final AtomicInteger size = new AtomicInteger();
    private final Object monitor = new Object();
    private volatile long lastTs;
    /** What $currentOp reports of each change stream cursor opened: its namespace and originating command. */
    private final Map<Long, Document> openStreams = new java.util.concurrent.ConcurrentHashMap<>();

    StandInOplog(MongoBackend backend, CursorRegistry cursorRegistry, Clock clock, MVMap<Long, byte[]> persisted,
                 int maxEntries) {
        this.backend = backend;
        this.cursorRegistry = cursorRegistry;
        this.clock = clock;
        this.persisted = persisted;
        this.maxEntries = maxEntries;
        if (persisted != null) {
            for (Map.Entry<Long, byte[]> e : persisted.entrySet()) {
                entries.put(e.getKey(), decodePersisted(e.getValue()));
                size.incrementAndGet();
            }
        }
        if (entries.isEmpty()) {
            append(List.of(entry("n", "", new Document("msg", "initiating set"))));
        } else {
            lastTs = entries.lastKey();
        }
    }

    // ------------------------------------------------------------------ writing

    // The library's own write paths call these; the stand-in's write commands (StandInWrites) replace them for every
    // logged collection and log each document themselves, so what still arrives here are internal writes.
    @Override
    public void handleInsert(String namespace, List<Document> documents) {
    }

    @Override
    public void handleUpdate(String namespace, Document selector, Document query, List<Object> modifiedIds) {
    }

    @Override
    public void handleDelete(String namespace, Document query, List<Object> deletedIds) {
    }

    /**
     * The document before an update, replace or delete, kept in the entry itself (real MongoDB keeps pre-images in
     * config.system.preimages, and only for collections with changeStreamPreAndPostImages enabled): what
     * fullDocumentBeforeChange gives. Never shown by a find on local.oplog.rs.
     */
    static final String PRE_IMAGE = "$standInPreImage";

    /** Called with the collection's lock held, right after the document was stored. */
    void logInsert(String namespace, Document document) {
        append(List.of(entry("i", namespace, document)));
    }

    /** An operator update; before/after are the whole document around it (the lock is held). */
    void logUpdate(String namespace, Object id, Document update, Document before, Document after) {
        append(List.of(entry("u", namespace, update.cloneDeeply())
            .append("o2", new Document("_id", id))
            .append("updateDescription", StandInUpdateDescriptions.describe(update, before, after))
            .append(PRE_IMAGE, before)));
    }

    /** A replacement; before is the whole document it replaced (its pre-image). */
    void logReplace(String namespace, Object id, Document replacement, Document before) {
        append(List.of(entry("u", namespace, replacement).append("o2", new Document("_id", id)).append(PRE_IMAGE, before)));
    }

    /** A delete; before is the deleted document (its pre-image). */
    void logDelete(String namespace, Object id, Document before) {
        append(List.of(entry("d", namespace, new Document("_id", id)).append(PRE_IMAGE, before)));
    }

    @Override
    public void handleDropCollection(String namespace) {
        if (isInternal(namespace)) {
            return;
        }
        String db = Utils.getDatabaseNameFromFullName(namespace);
        append(List.of(entry("c", db + ".$cmd", new Document("drop", Utils.getCollectionNameFromFullName(namespace)))));
    }

    void handleRename(String from, String to) {
        if (isInternal(from)) {
            return;
        }
        String db = Utils.getDatabaseNameFromFullName(from);
        append(List.of(entry("c", db + ".$cmd", new Document("renameCollection", from).append("to", to))));
    }

    void handleDropDatabase(String db) {
        if (INTERNAL_DATABASES.contains(db)) {
            return;
        }
        append(List.of(entry("c", db + ".$cmd", new Document("dropDatabase", 1))));
    }

    /**
     * The first entries from the oldest (or the newest) end, as a find on local.oplog.rs sorted by $natural returns
     * them: what monitoring reads to know the oplog's window.
     */
    List<Document> fromEnd(boolean newestFirst, int limit) {
        Collection<Document> ordered = newestFirst ? entries.descendingMap().values() : entries.values();
        List<Document> out = new ArrayList<>();
        for (Document entry : ordered) {
            if (out.size() >= limit) {
                break;
            }
            Document copy = entry.cloneDeeply();
            copy.remove(PRE_IMAGE);
            out.add(copy);
        }
        return out;
    }

    /** The timestamp of the newest entry: what the stand-in answers as operationTime and $clusterTime. */
    BsonTimestamp clusterTime() {
        return new BsonTimestamp(lastTs);
    }

    private Document entry(String op, String namespace, Document o) {
        Document entry = new Document()
            .append("ts", null)
            .append("t", 1L)
            .append("v", 2L)
            .append("op", op)
            .append("ns", namespace)
            .append("wall", null);
        if (o != null) {
            entry.append("o", o);
        }
        return entry;
    }

    private void append(List<Document> newEntries) {
        if (newEntries.isEmpty()) {
            return;
        }
        synchronized (monitor) {
            Instant now = clock.instant();
            long ts = lastTs;
            for (Document entry : newEntries) {
                long seconds = Math.max(now.getEpochSecond(), ts >>> 32);
                long increment = seconds == (ts >>> 32) ? (ts & 0xffffffffL) + 1 : 1;
                ts = (seconds << 32) | increment;
                entry.put("ts", new BsonTimestamp(ts));
                entry.put("wall", Instant.ofEpochMilli(now.toEpochMilli()));
                if (persisted != null) {
                    persisted.put(ts, encodePersisted(entry));
                }
                entries.put(ts, entry);
                size.incrementAndGet();
            }
            lastTs = ts;
            while (maxEntries > 0 && size.get() > maxEntries) {
                Long first = entries.firstKey();
                entries.remove(first);
                if (persisted != null) {
                    persisted.remove(first);
                }
                size.decrementAndGet();
            }
            monitor.notifyAll();
        }
    }

    static byte[] encode(Document document) {
        ByteBuf buffer = Unpooled.buffer();
        try {
            BsonEncoder.encodeDocument(document, buffer);
            byte[] bytes = new byte[buffer.readableBytes()];
            buffer.readBytes(bytes);
            return bytes;
        } finally {
            buffer.release();
        }
    }

    private static Document decode(byte[] bytes) {
        return BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bytes));
    }

    /** Marks an entry persisted field by field: a BSON document never starts with a negative length. */
    private static final int FIELDS_MARKER = -1;

    /**
     * An entry as stored in the H2 file: each top-level field as its own small document. The library's decoder
     * refuses documents over 16 MiB, and an entry holds up to three documents' worth (an update of a 15 MiB
     * document: the update, its description and the pre-image), which no single field exceeds.
     */
    private static byte[] encodePersisted(Document entry) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.writeBytes(header.putInt(0, FIELDS_MARKER).array());
        for (Map.Entry<String, Object> field : entry.entrySet()) {
            byte[] part = encode(new Document(field.getKey(), field.getValue()));
            out.writeBytes(header.putInt(0, part.length).array());
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static Document decodePersisted(byte[] bytes) {
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 4 || in.getInt(0) != FIELDS_MARKER) {
            return decode(bytes); // written whole, before entries were stored field by field
        }
        Document entry = new Document();
        int position = 4;
        while (position < bytes.length) {
            int length = in.getInt(position);
            entry.putAll(decode(java.util.Arrays.copyOfRange(bytes, position + 4, position + 4 + length)));
            position += 4 + length;
        }
        return entry;
    }

    static boolean isInternal(String namespace) {
        return INTERNAL_DATABASES.contains(Utils.getDatabaseNameFromFullName(namespace))
            || Utils.getCollectionNameFromFullName(namespace).startsWith("system.");
    }

    private MongoCollection<?> collection(String namespace) {
        MongoDatabase database = backend.resolveDatabase(Utils.getDatabaseNameFromFullName(namespace));
        return database.resolveCollection(Utils.getCollectionNameFromFullName(namespace), false);
    }

    private static Document findById(MongoCollection<?> collection, Object id) {
        Iterator<Document> it = collection.handleQuery(new Document("_id", id), 0, 1).iterator();
        return it.hasNext() ? it.next() : null;
    }

    // ------------------------------------------------------------------ reading

    /** Collection-level stream, called by the library for {aggregate: "coll", pipeline: [{$changeStream: …}]}. */
    @Override
    public Cursor createCursor(Document changeStreamDocument, String namespace, Aggregation aggregation) {
        return createCursor(changeStreamDocument, Utils.getDatabaseNameFromFullName(namespace),
            Utils.getCollectionNameFromFullName(namespace), aggregation, new StandInHashedKeys(), false, null);
    }

    /**
     * db == null: the whole deployment; coll == null: one database; split: $changeStreamSplitLargeEvent;
     * originatingCommand: the aggregate command as the client sent it (what $currentOp reports; null: built here).
     */
    Cursor createCursor(Document options, String db, String coll, Aggregation aggregation,
                        StandInHashedKeys hashedKeys, boolean split, Document originatingCommand) {
        for (String key : options.keySet()) {
            if (!Set.of("fullDocument", "fullDocumentBeforeChange", "resumeAfter", "startAfter",
                "startAtOperationTime", "allChangesForCluster", "showExpandedEvents").contains(key)) {
                throw new MongoServerError(40415, "Location40415", "BSON field '$changeStream." + key
                    + "' is an unknown field.");
            }
        }
        String fullDocument = String.valueOf(options.getOrDefault("fullDocument", "default"));
        String beforeChange = String.valueOf(options.getOrDefault("fullDocumentBeforeChange", "off"));
        if (fullDocument.equals("required")) {
            throw new MongoServerError(72, "InvalidOptions",
                "this MongoDB stand-in records no post-images: fullDocument 'required' is not supported");
        }

        final long position;
        final boolean inclusive;
        long skipTs = 0;
        int skipFragments = 0;
        Object resumeAfter = options.get("resumeAfter");
        Object startAfter = options.get("startAfter");
        Object startAt = options.get("startAtOperationTime");
        if (resumeAfter != null || startAfter != null) {
            Token token = Token.parse(resumeAfter != null ? resumeAfter : startAfter);
            if (token.invalidate && resumeAfter != null) {
                throw new MongoServerError(260, "InvalidResumeToken",
                    "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate"
                        + " notification; use 'startAfter'");
            }
            if (token.fragment > 0 && !split) {
                throw new MongoServerError(2, "BadValue",
                    "a resume token of a split event fragment needs $changeStreamSplitLargeEvent in the pipeline");
            }
            // After a fragment: the same event again, without the fragments up to that one.
            position = token.fragment > 0 ? token.ts - 1 : token.ts;
            inclusive = false;
            skipTs = token.fragment > 0 ? token.ts : 0;
            skipFragments = token.fragment;
        } else if (startAt != null) {
            if (!(startAt instanceof BsonTimestamp)) {
                throw new MongoServerError(14, "TypeMismatch", "startAtOperationTime must be a timestamp");
            }
            position = ((BsonTimestamp) startAt).getValue();
            inclusive = true;
        } else {
            position = lastTs;
            inclusive = false;
        }
        if (resumeAfter != null || startAfter != null || startAt != null) {
            long oldest = entries.firstKey();
            if (Long.compareUnsigned(position, oldest) < 0) {
                throw new MongoServerError(286, "ChangeStreamHistoryLost",
                    "Resume of change stream was not possible, as the resume point may no longer be in the oplog.");
            }
        }
        long start = inclusive ? position - 1 : position;
        ChangeStreamCursor cursor = new ChangeStreamCursor(cursorRegistry.generateCursorId(), db, coll,
            aggregation, hashedKeys, fullDocument, beforeChange, start, split, skipTs, skipFragments);
        cursorRegistry.add(cursor);
        String commandDb = db == null ? "admin" : db;
        openStreams.put(cursor.getId(), new Document("type", "idleCursor")
            .append("ns", commandDb + "." + (coll != null ? coll : "$cmd.aggregate"))
            .append("cursor", new Document("cursorId", cursor.getId())
                .append("originatingCommand", originatingCommand != null ? originatingCommand
                    : new Document("aggregate", coll).append("pipeline", List.of(new Document("$changeStream", options))))));
        return cursor;
    }

    /**
     * The change stream cursors still open (not killed, not closed by an invalidate), as $currentOp with
     * idleCursors: true lists them: one document per cursor with its namespace and originating command.
     */
    List<Document> openChangeStreams() {
        List<Document> out = new ArrayList<>();
        for (Map.Entry<Long, Document> e : openStreams.entrySet()) {
            Cursor cursor;
            try {
                cursor = cursorRegistry.getCursor(e.getKey());
            } catch (RuntimeException gone) {
                cursor = null;
            }
            if (cursor == null || cursor.isEmpty()) {
                openStreams.remove(e.getKey());
                continue;
            }
            out.add(e.getValue().cloneDeeply());
        }
        return out;
    }

    private static String tokenOf(long ts, boolean invalidate) {
        return String.format("%016x", ts) + (invalidate ? "01" : "");
    }

    /** The token of fragment n (from 1) of a split event: the event's token, "f", n in two hex digits. */
    private static String fragmentTokenOf(long ts, int fragment) {
        return tokenOf(ts, false) + String.format("f%02x", fragment);
    }

    private static final class Token {
        final long ts;
        final boolean invalidate;
        final int fragment;

        private Token(long ts, boolean invalidate, int fragment) {
            this.ts = ts;
            this.invalidate = invalidate;
            this.fragment = fragment;
        }

        static Token parse(Object value) {
            Object data = value instanceof Document ? ((Document) value).get("_data") : null;
            if (data instanceof String) {
                String s = (String) data;
                if ((s.length() == 16 || (s.length() == 18 && s.endsWith("01"))) && s.matches("[0-9a-fA-F]+")) {
                    return new Token(Long.parseUnsignedLong(s.substring(0, 16), 16), s.length() == 18, 0);
                }
                if (s.length() == 19 && s.matches("[0-9a-fA-F]{16}f[0-9a-fA-F]{2}")) {
                    return new Token(Long.parseUnsignedLong(s.substring(0, 16), 16), false,
                        Integer.parseInt(s.substring(17), 16));
                }
            }
            throw new MongoServerError(260, "InvalidResumeToken",
                "invalid resume token " + value + " (this MongoDB stand-in only accepts its own tokens)");
        }
    }

    private final class ChangeStreamCursor extends AbstractCursor {
        private final String db;
        private final String coll;
        private final Aggregation aggregation;
        private final StandInHashedKeys hashedKeys;
        private final String fullDocument;
        private final String beforeChange;
        private long position;
        private Document pendingInvalidate;
        private boolean closed;
        private final boolean split;
        private final long skipTs;
        private final int skipFragments;

        ChangeStreamCursor(long id, String db, String coll, Aggregation aggregation, StandInHashedKeys hashedKeys,
                           String fullDocument, String beforeChange, long position, boolean split, long skipTs,
                           int skipFragments) {
            super(id);
            this.split = split;
            this.skipTs = skipTs;
            this.skipFragments = skipFragments;
            this.db = db;
            this.coll = coll;
            this.aggregation = aggregation;
            this.hashedKeys = hashedKeys;
            this.fullDocument = fullDocument;
            this.beforeChange = beforeChange;
            this.position = position;
        }

        @Override
        public boolean isEmpty() {
            return closed;
        }

        @Override
        public synchronized List<Document> takeDocuments(int numberToReturn) {
            int limit = numberToReturn > 0 ? numberToReturn : DEFAULT_BATCH;
            Long await = AWAIT_MS.get();
            long deadline = System.currentTimeMillis() + (await == null ? 0 : await);
            List<Document> batch = new ArrayList<>();
            while (true) {
                scan(batch, limit);
                long remaining = deadline - System.currentTimeMillis();
                if (!batch.isEmpty() || closed || remaining <= 0) {
                    break;
                }
                synchronized (monitor) {
                    if (lastTs == position) {
                        try {
                            monitor.wait(remaining);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            break;
                        }
                    }
                }
            }
            POST_BATCH_RESUME_TOKEN.set(new Document("_data", closed && !batch.isEmpty()
                ? ((Document) batch.get(batch.size() - 1).get("_id")).get("_data")
                : tokenOf(position, false)));
            return batch;
        }

        private void scan(List<Document> batch, int limit) {
            if (pendingInvalidate != null && batch.size() < limit) {
                batch.add(pendingInvalidate);
                pendingInvalidate = null;
                closed = true;
                return;
            }
            long upTo = lastTs; // entries up to lastTs are all in the map
            ConcurrentNavigableMap<Long, Document> tail = entries.tailMap(position, false);
            for (Map.Entry<Long, Document> e : tail.entrySet()) {
                if (batch.size() >= limit || closed || Long.compareUnsigned(e.getKey(), upTo) > 0) {
                    return;
                }
                position = e.getKey();
                for (Document event : toEvents(e.getValue())) {
                    if (event.get("operationType").equals("invalidate")) {
                        if (batch.size() < limit) {
                            batch.add(event);
                            closed = true;
                        } else {
                            pendingInvalidate = event;
                        }
                        return;
                    }
                    Document out = applyPipeline(event);
                    if (out != null) {
                        addSized(batch, out, e.getKey());
                    }
                }
            }
            if (Long.compareUnsigned(upTo, position) > 0) {
                position = upTo;
            }
        }

        private Document applyPipeline(Document event) {
            if (aggregation == null) {
                return event;
            }
            Object id = event.get("_id");
            hashedKeys.addTo(event);
            Document out = aggregation.runStagesAsStream(java.util.stream.Stream.of(event)).findFirst().orElse(null);
            if (out != null) {
                out.remove(StandInHashedKeys.FIELD);
            }
            if (out != null && !Objects.equals(out.get("_id"), id)) {
                throw new MongoServerError(280, "ChangeStreamFatalError",
                    "Encountered an event whose _id field, which contains the resume token, was modified by the"
                        + " pipeline. Modifying the _id field of an event makes it impossible to resume the stream"
                        + " from that point. Only transformations that retain the unmodified _id field are allowed.");
            }
            return out;
        }

        private boolean inScope(String entryDb) {
            if (INTERNAL_DATABASES.contains(entryDb)) {
                return false;
            }
            return db == null || db.equals(entryDb);
        }

        private List<Document> toEvents(Document entry) {
            String op = (String) entry.get("op");
            String ns = (String) entry.get("ns");
            if (op.equals("n")) {
                return Collections.emptyList();
            }
            String entryDb = Utils.getDatabaseNameFromFullName(ns);
            if (!inScope(entryDb)) {
                return Collections.emptyList();
            }
            BsonTimestamp ts = (BsonTimestamp) entry.get("ts");
            Document o = (Document) entry.get("o");
            if (op.equals("c")) {
                return commandEvents(entry, entryDb, ts, o);
            }
            String entryColl = Utils.getCollectionNameFromFullName(ns);
            if (coll != null && !coll.equals(entryColl)) {
                return Collections.emptyList();
            }
            Document event = header(ts, entry);
            Object id;
            switch (op) {
                case "i":
                    id = o.get("_id");
                    event.append("operationType", "insert").append("clusterTime", ts).append("wallTime", entry.get("wall"))
                        .append("fullDocument", o);
                    break;
                case "u": {
                    id = ((Document) entry.get("o2")).get("_id");
                    boolean replace = !entry.containsKey("updateDescription");
                    event.append("operationType", replace ? "replace" : "update").append("clusterTime", ts)
                        .append("wallTime", entry.get("wall"));
                    if (replace) {
                        event.append("fullDocument", o);
                    } else if (fullDocument.equals("updateLookup")) {
                        MongoCollection<?> collection = collection(ns);
                        event.append("fullDocument", collection == null ? null : findById(collection, id));
                    } else if (fullDocument.equals("whenAvailable")) {
                        event.append("fullDocument", null);
                    }
                    break;
                }
                case "d":
                    id = o.get("_id");
                    event.append("operationType", "delete").append("clusterTime", ts).append("wallTime", entry.get("wall"));
                    break;
                default:
                    return Collections.emptyList();
            }
            event.append("ns", new Document("db", entryDb).append("coll", entryColl));
            event.append("documentKey", new Document("_id", id));
            if (op.equals("u") && entry.containsKey("updateDescription")) {
                event.append("updateDescription", entry.get("updateDescription"));
            }
            if (!op.equals("i") && !beforeChange.equals("off")) {
                if (beforeChange.equals("required") && !entry.containsKey(PRE_IMAGE)) {
                    throw new MongoServerError(280, "ChangeStreamFatalError",
                        "Change stream was configured to require a pre-image for all update, delete and replace events,"
                            + " but no pre-image was recorded");
                }
                event.append("fullDocumentBeforeChange", entry.get(PRE_IMAGE));
            }
            return List.of(event);
        }

        private List<Document> commandEvents(Document entry, String entryDb, BsonTimestamp ts, Document o) {
            List<Document> events = new ArrayList<>(2);
            if (o.containsKey("drop")) {
                String dropped = (String) o.get("drop");
                if (coll != null && !coll.equals(dropped)) {
                    return events;
                }
                events.add(header(ts, entry).append("operationType", "drop").append("clusterTime", ts)
                    .append("wallTime", entry.get("wall")).append("ns", new Document("db", entryDb).append("coll", dropped)));
                if (coll != null) {
                    events.add(invalidate(ts, entry));
                }
            } else if (o.containsKey("renameCollection")) {
                String from = (String) o.get("renameCollection");
                String to = (String) o.get("to");
                if (coll != null && !from.equals(entryDb + "." + coll)) {
                    return events;
                }
                events.add(header(ts, entry).append("operationType", "rename").append("clusterTime", ts)
                    .append("wallTime", entry.get("wall"))
                    .append("ns", new Document("db", entryDb).append("coll", Utils.getCollectionNameFromFullName(from)))
                    .append("to", new Document("db", Utils.getDatabaseNameFromFullName(to))
                        .append("coll", Utils.getCollectionNameFromFullName(to))));
                if (coll != null) {
                    events.add(invalidate(ts, entry));
                }
            } else if (o.containsKey("dropDatabase")) {
                if (coll != null) {
                    return events;
                }
                events.add(header(ts, entry).append("operationType", "dropDatabase").append("clusterTime", ts)
                    .append("wallTime", entry.get("wall")).append("ns", new Document("db", entryDb)));
                if (db != null) {
                    events.add(invalidate(ts, entry));
                }
            }
            return events;
        }

        /**
         * MongoDB's limit on one change event, 16 MiB of BSON: larger events fail the stream (BSONObjectTooLarge),
         * or with $changeStreamSplitLargeEvent become fragments of whole top-level fields, each with its own token.
         */
        private void addSized(List<Document> batch, Document event, long ts) {
            int size = encode(event).length;
            if (size <= MAX_EVENT_BYTES) {
                batch.add(event);
                return;
            }
            if (!split) {
                throw new MongoServerError(10334, "BSONObjectTooLarge",
                    "BSONObj size: " + size + " is invalid. Size must be between 0 and 16793600(16MB)");
            }
            List<Document> fragments = new ArrayList<>();
            Document current = new Document();
            int currentSize = 0;
            for (Map.Entry<String, Object> field : event.entrySet()) {
                if (field.getKey().equals("_id")) {
                    continue;
                }
                int fieldSize = encode(new Document(field.getKey(), field.getValue())).length;
                if (fieldSize > MAX_EVENT_BYTES - 200) {
                    throw new MongoServerError(10334, "BSONObjectTooLarge",
                        "BSONObj size: " + fieldSize + " is invalid: field '" + field.getKey() + "' alone is over 16MB");
                }
                if (!current.isEmpty() && currentSize + fieldSize > MAX_EVENT_BYTES - 200) {
                    fragments.add(current);
                    current = new Document();
                    currentSize = 0;
                }
                current.append(field.getKey(), field.getValue());
                currentSize += fieldSize;
            }
            fragments.add(current);
            for (int i = 0; i < fragments.size(); i++) {
                int n = i + 1;
                if (ts == skipTs && n <= skipFragments) {
                    continue;
                }
                Document fragment = new Document("_id", new Document("_data", fragmentTokenOf(ts, n)))
                    .append("splitEvent", new Document("fragment", n).append("of", fragments.size()));
                fragment.putAll(fragments.get(i));
                batch.add(fragment);
            }
        }

        private Document header(BsonTimestamp ts, Document entry) {
            return new Document("_id", new Document("_data", tokenOf(ts.getValue(), false)));
        }

        private Document invalidate(BsonTimestamp ts, Document entry) {
            return new Document("_id", new Document("_data", tokenOf(ts.getValue(), true)))
                .append("operationType", "invalidate").append("clusterTime", ts).append("wallTime", entry.get("wall"));
        }
    }
}
