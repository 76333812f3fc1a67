import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.ArrayFilters;
import de.bwaldvogel.mongo.backend.DefaultQueryMatcher;
import de.bwaldvogel.mongo.backend.QueryMatcher;
import de.bwaldvogel.mongo.backend.StandInLibraryAccess;
import de.bwaldvogel.mongo.backend.Utils;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.ImmutableFieldException;
import de.bwaldvogel.mongo.exception.MongoServerError;

/**
 * The stand-in's insert, update, delete and findAndModify commands. The library changes a document and logs it in
 * separate steps, and its update path can fail half-way ("illegal field name. must not happen …" on a document
 * holding a dotted field name, after the stored document was already changed), so a write could change data
 * without a change event. Here every document is computed and checked first on a copy, then stored and logged while
 * the collection's lock is held: each write is applied and logged, or refused and leaves the data unchanged.
 *
 * <p>Field names follow MongoDB 5.0+: documents may hold dotted and $-prefixed names (inserts, upserts, nested
 * names in replacements); a replacement may not hold a top-level $-prefixed name (52); an update operator path is
 * always split at dots, so it never addresses a dotted name, and may not start with a $-prefixed name unless the
 * update inserts (52); _id cannot change (66).
 *
 * <p>Writes to internal databases and system collections are left to the library (they have no change events).
 */
final class StandInWrites {

    private static final String ID = "_id";
    private static final String PLAN_EXECUTOR_PREFIX = "Plan executor error during findAndModify :: caused by :: ";

    private final MongoBackend backend;
    private final StandInOplog oplog;
    private final QueryMatcher matcher = new DefaultQueryMatcher();
    // read side: one change and its oplog entry (many at once); write side: an H2 commit
    private final ReentrantReadWriteLock commitLock = new ReentrantReadWriteLock();

    StandInWrites(MongoBackend backend, StandInOplog oplog) {
        this.backend = backend;
        this.oplog = oplog;
    }

    /** True when the command writes to a collection whose changes are logged (not admin/local/config, not system.*). */
    static boolean isLogged(String db, String command, Document query) {
        Object collection = query.get(command);
        return collection instanceof String && !StandInOplog.isInternal(db + "." + collection);
    }

    // ------------------------------------------------------------------ insert

    Document insert(String db, Document query) {
        String namespace = db + "." + query.get("insert");
        boolean ordered = isOrdered(query);
        @SuppressWarnings("unchecked")
        List<Document> documents = (List<Document>) query.get("documents");
        MongoCollection<?> collection = StandInLibraryAccess.resolveOrCreateCollection(
            backend.resolveDatabase(db), (String) query.get("insert"));
        int inserted = 0;
        List<Document> writeErrors = new ArrayList<>();
        for (int i = 0; i < documents.size(); i++) {
            try {
                insertOne(collection, namespace, documents.get(i));
                inserted++;
            } catch (RuntimeException e) {
                writeErrors.add(writeError(i, e));
                if (ordered) {
                    break;
                }
            }
        }
        return reply(new Document("n", inserted), writeErrors);
    }

    private void insertOne(MongoCollection<?> collection, String namespace, Document document) {
        checkIdFieldNames(document.get(ID));
        synchronized (collection) {
            inOneCommit(() -> {
                collection.addDocument(document);
                oplog.logInsert(namespace, document.cloneDeeply());
            });
        }
    }

    // ------------------------------------------------------------------ update

    Document update(String db, Document query) {
        String collectionName = (String) query.get("update");
        String namespace = db + "." + collectionName;
        boolean ordered = isOrdered(query);
        @SuppressWarnings("unchecked")
        List<Document> statements = (List<Document>) query.get("updates");
        MongoDatabase database = backend.resolveDatabase(db);
        int matched = 0;
        int modified = 0;
        List<Document> upserted = new ArrayList<>();
        List<Document> writeErrors = new ArrayList<>();
        for (int i = 0; i < statements.size(); i++) {
            Document statement = statements.get(i);
            try {
                Document filter = filterOf(statement.get("q"));
                Document update = updateOf(statement.get("u"));
                boolean multi = Utils.isTrue(statement.get("multi"));
                boolean upsert = Utils.isTrue(statement.get("upsert"));
                if (multi && isReplacement(update)) {
                    throw new MongoServerError(9, "FailedToParse",
                        "multi update is not supported for replacement-style update");
                }
                ArrayFilters arrayFilters = StandInLibraryAccess.arrayFilters(statement, update);
                MongoCollection<?> collection = upsert
                    ? StandInLibraryAccess.resolveOrCreateCollection(database, collectionName)
                    : database.resolveCollection(collectionName, false);
                if (collection == null) {
                    continue;
                }
                synchronized (collection) {
                    List<Document> matches = StandInLibraryAccess.storedMatches(collection, filter, null, multi ? 0 : 1);
                    // counted only when the whole statement succeeds, as by MongoDB (a failed updateMany keeps, and logs,
                    // the documents it changed before the failure)
                    int statementModified = 0;
                    for (Document stored : matches) {
                        if (updateStored(collection, namespace, stored, filter, update, arrayFilters)) {
                            statementModified++;
                        }
                    }
                    matched += matches.size();
                    modified += statementModified;
                    if (matches.isEmpty() && upsert) {
                        Document document = upsertDocument(collection, filter, update, arrayFilters);
                        insertOne(collection, namespace, document);
                        upserted.add(new Document("index", i).append(ID, document.get(ID)));
                    }
                }
            } catch (RuntimeException e) {
                writeErrors.add(writeError(i, e));
                if (ordered) {
                    break;
                }
            }
        }
        Document response = new Document("n", matched + upserted.size()).append("nModified", modified);
        if (!upserted.isEmpty()) {
            response.append("upserted", upserted);
        }
        return reply(response, writeErrors);
    }

    /** Updates one stored document (the caller holds the collection's lock); false when nothing changed. */
    private boolean updateStored(MongoCollection<?> collection, String namespace, Document stored, Document filter,
                                 Document update, ArrayFilters arrayFilters) {
        Document updated = updatedDocument(stored, update, arrayFilters, matcher.matchPosition(stored, filter));
        if (sameBson(stored, updated)) {
            return false;
        }
        Document before = stored.cloneDeeply();
        inOneCommit(() -> {
            StandInLibraryAccess.replaceStored(collection, stored, updated);
            if (isReplacement(update)) {
                oplog.logReplace(namespace, stored.get(ID), stored.cloneDeeply(), before);
            } else {
                oplog.logUpdate(namespace, stored.get(ID), update, before, stored);
            }
        });
        return true;
    }

    /** The stored document after the update, computed on a copy: nothing is changed when this throws. */
    private static Document updatedDocument(Document stored, Document update, ArrayFilters arrayFilters,
                                            Integer matchPosition) {
        Object id = stored.get(ID);
        Document updated;
        if (isReplacement(update)) {
            checkReplacementFieldNames(update);
            if (update.containsKey(ID) && !StandInLibraryAccess.sameValue(update.get(ID), id)) {
                throw idAltered(update.get(ID));
            }
            updated = withIdFirst(id, update.cloneDeeply());
        } else {
            checkOperators(update, false);
            updated = stored.cloneDeeply();
            for (Map.Entry<String, Object> operator : update.entrySet()) {
                StandInLibraryAccess.applyOperator(updated, operator.getKey(), (Document) operator.getValue(), ID,
                    false, matchPosition, arrayFilters);
            }
            if (!StandInLibraryAccess.sameValue(updated.get(ID), id)) {
                throw new ImmutableFieldException(
                    "Performing an update on the path '_id' would modify the immutable field '_id'");
            }
        }
        return updated;
    }

    /** The document an upsert inserts: MongoDB validates it like an insert ($-prefixed names allowed). */
    private static Document upsertDocument(MongoCollection<?> collection, Document filter, Document update,
                                           ArrayFilters arrayFilters) {
        Document seed = StandInLibraryAccess.upsertSeed(collection, filter);
        Document document;
        if (isReplacement(update)) {
            checkReplacementFieldNames(update);
            document = update.cloneDeeply();
        } else {
            checkOperators(update, true);
            document = seed.cloneDeeply();
            for (Map.Entry<String, Object> operator : update.entrySet()) {
                StandInLibraryAccess.applyOperator(document, operator.getKey(), (Document) operator.getValue(), ID,
                    true, null, arrayFilters);
            }
        }
        boolean idChanged = seed.containsKey(ID) && document.containsKey(ID)
            && !StandInLibraryAccess.sameValue(document.get(ID), seed.get(ID));
        if (idChanged) {
            throw idAltered(document.get(ID));
        }
        Object id = document.containsKey(ID) ? document.get(ID)
            : seed.containsKey(ID) ? seed.get(ID) : StandInLibraryAccess.upsertId(collection, filter);
        return withIdFirst(id, document);
    }

    // ------------------------------------------------------------------ delete

    Document delete(String db, Document query) {
        boolean ordered = isOrdered(query);
        String namespace = db + "." + query.get("delete");
        @SuppressWarnings("unchecked")
        List<Document> statements = (List<Document>) query.get("deletes");
        MongoCollection<?> collection = backend.resolveDatabase(db).resolveCollection((String) query.get("delete"), false);
        int deleted = 0;
        List<Document> writeErrors = new ArrayList<>();
        for (int i = 0; i < statements.size() && collection != null; i++) {
            Document statement = statements.get(i);
            try {
                int limit = ((Number) statement.getOrDefault("limit", 0)).intValue();
                synchronized (collection) {
                    for (Document stored : StandInLibraryAccess.storedMatches(collection, filterOf(statement.get("q")),
                        null, limit)) {
                        deleteStored(collection, namespace, stored);
                        deleted++;
                    }
                }
            } catch (RuntimeException e) {
                writeErrors.add(writeError(i, e));
                if (ordered) {
                    break;
                }
            }
        }
        return reply(new Document("n", deleted), writeErrors);
    }

    private void deleteStored(MongoCollection<?> collection, String namespace, Document stored) {
        Object id = stored.get(ID);
        Document before = stored.cloneDeeply();
        inOneCommit(() -> {
            collection.removeDocument(stored);
            oplog.logDelete(namespace, id, before);
        });
    }

    // ------------------------------------------------------------------ findAndModify

    /** findOneAndUpdate / findOneAndReplace / findOneAndDelete, with MongoDB's lastErrorObject. */
    Document findAndModify(String db, String command, Document query) {
        String collectionName = (String) query.get(command);
        String namespace = db + "." + collectionName;
        boolean remove = Utils.isTrue(query.get("remove"));
        Object updateValue = query.get("update");
        if (remove == (updateValue != null)) {
            throw new MongoServerError(9, "FailedToParse", remove
                ? "Cannot specify both an update and remove=true" : "Either an update or remove=true must be specified");
        }
        Document update = remove ? null : updateOf(updateValue);
        boolean upsert = Utils.isTrue(query.get("upsert"));
        boolean returnNew = Utils.isTrue(query.get("new"));
        Document filter = filterOf(query.get("query"));
        Object sort = query.get("sort");
        MongoDatabase database = backend.resolveDatabase(db);
        MongoCollection<?> collection = upsert
            ? StandInLibraryAccess.resolveOrCreateCollection(database, collectionName)
            : database.resolveCollection(collectionName, false);

        Document lastErrorObject = new Document("n", 0);
        Document value = null;
        if (collection != null) {
            synchronized (collection) {
                List<Document> matches = StandInLibraryAccess.storedMatches(collection, filter,
                    sort instanceof Document ? (Document) sort : null, 1);
                if (!matches.isEmpty()) {
                    Document stored = matches.get(0);
                    Document before = stored.cloneDeeply();
                    lastErrorObject.put("n", 1);
                    if (remove) {
                        deleteStored(collection, namespace, stored);
                    } else {
                        lastErrorObject.put("updatedExisting", Boolean.TRUE);
                        ArrayFilters arrayFilters = StandInLibraryAccess.arrayFilters(query, update);
                        try {
                            updateStored(collection, namespace, stored, filter, update, arrayFilters);
                        } catch (MongoServerError e) {
                            throw new MongoServerError(e.getCode(), e.getCodeName(),
                                PLAN_EXECUTOR_PREFIX + e.getMessageWithoutErrorCode(), e);
                        }
                    }
                    value = returnNew && !remove ? stored.cloneDeeply() : before;
                } else if (!remove && upsert) {
                    Document document = upsertDocument(collection, filter, update,
                        StandInLibraryAccess.arrayFilters(query, update));
                    insertOne(collection, namespace, document);
                    lastErrorObject.append("n", 1).append("updatedExisting", Boolean.FALSE).append("upserted", document.get(ID));
                    value = returnNew ? document.cloneDeeply() : null;
                } else if (!remove) {
                    lastErrorObject.put("updatedExisting", Boolean.FALSE);
                }
            }
        }
        Object fields = query.get("fields");
        if (value != null && fields instanceof Document && !((Document) fields).isEmpty()) {
            value = StandInLibraryAccess.project((Document) fields, ID, value);
        }
        Document response = new Document("lastErrorObject", lastErrorObject).append("value", value);
        Utils.markOkay(response);
        return response;
    }

    /**
     * Runs a change of the data together with its oplog entry so that no H2 commit (StandInCommands.commitEvery)
     * falls between them: after a kill -9 both are on disk or neither is.
     */
    void inOneCommit(Runnable change) {
        commitLock.readLock().lock();
        try {
            change.run();
        } finally {
            commitLock.readLock().unlock();
        }
    }

    /** Runs the commit while no change is half done. */
    void betweenChanges(Runnable commit) {
        commitLock.writeLock().lock();
        try {
            commit.run();
        } finally {
            commitLock.writeLock().unlock();
        }
    }

    // ------------------------------------------------------------------ rules and helpers

    /** As MongoDB decides it: by the first field name ({a: 1, $b: 1} is a replacement refused for $b). */
    private static boolean isReplacement(Document update) {
        return update.isEmpty() || !update.keySet().iterator().next().startsWith("$");
    }

    private static void checkReplacementFieldNames(Document replacement) {
        for (String key : replacement.keySet()) {
            if (key.startsWith("$")) {
                throw dollarPrefixed(key);
            }
        }
    }

    /**
     * An operator update: every key an operator with a document of paths, no two paths in conflict, and unless the
     * update inserts (an upsert, validated like an insert), no path starting with a $-prefixed name.
     */
    private static void checkOperators(Document update, boolean inserting) {
        for (Map.Entry<String, Object> operator : update.entrySet()) {
            if (!operator.getKey().startsWith("$")) {
                throw new MongoServerError(9, "FailedToParse", "Unknown modifier: " + operator.getKey()
                    + ". Expected a valid update modifier or pipeline-style update specified as an array");
            }
            if (!(operator.getValue() instanceof Document)) {
                throw new MongoServerError(9, "FailedToParse", "Modifiers operate on fields: "
                    + operator.getKey() + " needs a document, as in {$set: {<field>: ...}}");
            }
            if (!inserting) {
                checkPaths(operator.getKey(), (Document) operator.getValue());
            }
        }
        StandInLibraryAccess.checkConflictingPaths(update);
    }

    private static void checkPaths(String operator, Document fields) {
        for (Map.Entry<String, Object> field : fields.entrySet()) {
            checkPath(field.getKey());
            if (operator.equals("$rename") && field.getValue() instanceof String) {
                checkPath((String) field.getValue());
            }
        }
    }

    private static void checkPath(String path) {
        String first = path.split("\\.", -1)[0];
        if (first.startsWith("$")) {
            throw dollarPrefixed(first);
        }
    }

    private static ImmutableFieldException idAltered(Object id) {
        return new ImmutableFieldException(
            "After applying the update, the (immutable) field '_id' was found to have been altered to _id: " + id);
    }

    /** MongoDB refuses $-prefixed names anywhere inside an _id document. */
    private static void checkIdFieldNames(Object id) {
        if (id instanceof Document) {
            for (Map.Entry<String, Object> field : ((Document) id).entrySet()) {
                if (field.getKey().startsWith("$")) {
                    throw new MongoServerError(52, "DollarPrefixedFieldName", "_id fields may not contain '$'-prefixed"
                        + " fields: " + field.getKey() + " is not valid for storage.");
                }
                checkIdFieldNames(field.getValue());
            }
        } else if (id instanceof List) {
            ((List<?>) id).forEach(StandInWrites::checkIdFieldNames);
        }
    }

    private static MongoServerError dollarPrefixed(String field) {
        return new MongoServerError(52, "DollarPrefixedFieldName", "The dollar ($) prefixed field '" + field
            + "' in '" + field + "' is not allowed in the context of an update's replacement document. Consider using"
            + " an aggregation pipeline with $replaceWith.");
    }

    private static Document withIdFirst(Object id, Document document) {
        Document out = new Document(ID, id);
        for (Map.Entry<String, Object> entry : document.entrySet()) {
            if (!entry.getKey().equals(ID)) {
                out.put(entry.getKey(), entry.getValue());
            }
        }
        return out;
    }

    /** MongoDB counts a write as a modification when the stored BSON changes (also a type change 1 → 1.0). */
    private static boolean sameBson(Document a, Document b) {
        return Arrays.equals(StandInOplog.encode(a), StandInOplog.encode(b));
    }

    private static Document filterOf(Object filter) {
        return filter instanceof Document ? (Document) filter : new Document();
    }

    private static Document updateOf(Object update) {
        if (update instanceof List) {
            throw new MongoServerError(238, "NotImplemented",
                "pipeline-style updates are not supported by this MongoDB stand-in");
        }
        if (!(update instanceof Document)) {
            throw new MongoServerError(14, "TypeMismatch", "the update must be a document");
        }
        return (Document) update;
    }

    private static boolean isOrdered(Document query) {
        return !Boolean.FALSE.equals(query.get("ordered"));
    }

    private static Document writeError(int index, RuntimeException e) {
        Document error = new Document("index", index);
        if (e instanceof MongoServerError) {
            MongoServerError serverError = (MongoServerError) e;
            error.append("code", serverError.getCode());
            if (serverError.getCodeName() != null) {
                error.append("codeName", serverError.getCodeName());
            }
            error.append("errmsg", serverError.getMessageWithoutErrorCode());
        } else {
            error.append("code", 1).append("codeName", "InternalError").append("errmsg", String.valueOf(e));
        }
        return error;
    }

    private static Document reply(Document response, List<Document> writeErrors) {
        if (!writeErrors.isEmpty()) {
            response.append("writeErrors", writeErrors);
        }
        Utils.markOkay(response);
        return response;
    }
}
