package de.bwaldvogel.mongo.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.FailedToParseException;

/**
 * The library internals that the stand-in's write commands (StandInWrites) need: its update operators, upsert
 * seeding, array filters, projections and the storage of one changed document. They are package-private or
 * protected in mongo-java-server, hence this class lives in the library's package; it adds no behaviour of its own.
 */
public final class StandInLibraryAccess {

    private StandInLibraryAccess() {
    }

    public static MongoCollection<?> resolveOrCreateCollection(MongoDatabase database, String collectionName) {
        return ((AbstractMongoDatabase<?>) database).resolveOrCreateCollection(collectionName);
    }

    /** The stored documents themselves (not copies) that match, in sort order; limit 0: all. */
    public static List<Document> storedMatches(MongoCollection<?> collection, Document query, Document sort, int limit) {
        List<Document> matches = new ArrayList<>();
        for (Document document : ((AbstractMongoCollection<?>) collection).queryDocuments(query, sort, 0, limit, 0, null)) {
            matches.add(document);
        }
        return matches;
    }

    public static ArrayFilters arrayFilters(Document statement, Document update) {
        return ArrayFilters.parse(statement, update);
    }

    /** Applies one update operator ($set, $inc, …) to the document, in place. */
    public static void applyOperator(Document document, String operator, Document change, String idField,
                                     boolean upsert, Integer matchPosition, ArrayFilters arrayFilters) {
        final UpdateOperator updateOperator;
        try {
            updateOperator = UpdateOperator.fromValue(operator);
        } catch (IllegalArgumentException e) {
            throw new FailedToParseException("Unknown modifier: " + operator
                + ". Expected a valid update modifier or pipeline-style update specified as an array");
        }
        new FieldUpdates(document, updateOperator, idField, upsert, matchPosition, arrayFilters).apply(change, operator);
    }

    /** Refuses two operators on the same or nested paths ({$set: {a: 1}, $inc: {"a.b": 1}}), code 40. */
    public static void checkConflictingPaths(Document update) {
        AbstractMongoCollection.validateUpdateQuery(update);
    }

    /** The document an upsert starts from: the equality fields of its filter. */
    public static Document upsertSeed(MongoCollection<?> collection, Document filter) {
        return ((AbstractMongoCollection<?>) collection).convertSelectorToDocument(filter);
    }

    public static Object upsertId(MongoCollection<?> collection, Document filter) {
        return ((AbstractMongoCollection<?>) collection).deriveDocumentId(filter);
    }

    /** The library's equality of values (numbers by value: 1 equals 1.0). */
    public static boolean sameValue(Object a, Object b) {
        return Utils.nullAwareEquals(a, b);
    }

    public static Document project(Document fields, String idField, Document document) {
        return new Projection(fields, idField).projectDocument(document);
    }

    /**
     * Replaces the content of a stored document by the updated one: unique indexes are checked first (a duplicate key
     * changes nothing), then updated, then the document is changed in place and handed to the backend to store.
     */
    public static <P> void replaceStored(MongoCollection<P> mongoCollection, Document stored, Document updated) {
        AbstractMongoCollection<P> collection = (AbstractMongoCollection<P>) mongoCollection;
        Document old = stored.cloneDeeply();
        List<Index<P>> indexes = collection.getIndexes();
        for (Index<P> index : indexes) {
            index.checkUpdate(old, updated, collection);
        }
        P position = positionOf(collection, old);
        for (Index<P> index : indexes) {
            index.updateInPlace(old, updated, position, collection);
        }
        if (collection.tracksDataSize()) {
            collection.updateDataSize(Utils.calculateSize(updated) - Utils.calculateSize(old));
        }
        // in place: the memory backend keeps the stored instance and does nothing in handleUpdate
        stored.clear();
        stored.putAll(updated);
        collection.handleUpdate(position, old, stored);
    }

    private static <P> P positionOf(AbstractMongoCollection<P> collection, Document document) {
        List<Index<P>> indexes = collection.getIndexes();
        if (indexes.isEmpty()) {
            return collection.findDocumentPosition(document);
        }
        Set<P> positions = indexes.stream()
            .map(index -> index.getPosition(document))
            .filter(Objects::nonNull)
            .collect(Collectors.toSet());
        return CollectionUtils.getSingleElement(positions);
    }
}
