import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import de.bwaldvogel.mongo.bson.Document;

/**
 * updateDescription of an operator update: updatedFields holds the paths the operators name, with their values after
 * the update; removedFields the $unset and $rename sources. A path whose value did not change is left out, as MongoDB
 * does. Keys are the update's own paths (positional parts cut off: "a.$.b" → "a", the whole array), and an
 * operator path always splits at dots, so a key never leads into a dotted field name and splitting a key at its dots
 * is always right; MongoDB (delta-based) may report paths into such names and adds disambiguatedPaths for them.
 */
final class StandInUpdateDescriptions {

    private static final Object MISSING = new Object();

    private StandInUpdateDescriptions() {
    }

    static Document describe(Document update, Document before, Document after) {
        Set<String> updated = new LinkedHashSet<>();
        Set<String> removed = new LinkedHashSet<>();
        for (Map.Entry<String, Object> operator : update.entrySet()) {
            Document fields = (Document) operator.getValue();
            switch (operator.getKey()) {
                case "$unset":
                    fields.keySet().forEach(path -> removed.add(untilPositional(path)));
                    break;
                case "$rename":
                    for (Map.Entry<String, Object> rename : fields.entrySet()) {
                        removed.add(rename.getKey());
                        updated.add(String.valueOf(rename.getValue()));
                    }
                    break;
                case "$setOnInsert":
                    break;
                default:
                    fields.keySet().forEach(path -> updated.add(untilPositional(path)));
            }
        }
        Document updatedFields = new Document();
        List<String> removedFields = new ArrayList<>();
        for (String path : updated) {
            Object value = valueAt(after, path);
            if (value == MISSING) {
                removed.add(path);
            } else if (!sameValue(value, valueAt(before, path))) {
                updatedFields.put(path, copy(value));
            }
        }
        for (String path : removed) {
            Object value = valueAt(after, path);
            if (value == MISSING && valueAt(before, path) != MISSING) {
                removedFields.add(path);
            } else if (value != MISSING && !sameValue(value, valueAt(before, path))) {
                updatedFields.put(path, copy(value)); // $unset of an array element leaves null in its place
            }
        }
        return new Document("updatedFields", updatedFields)
            .append("removedFields", removedFields)
            .append("truncatedArrays", new ArrayList<>());
    }

    /** "a.$.b" / "a.$[].b" / "a.$[x].b" → "a": the array as a whole is reported as updated. */
    private static String untilPositional(String path) {
        StringBuilder out = new StringBuilder();
        for (String part : path.split("\\.")) {
            if (part.startsWith("$")) {
                break;
            }
            if (out.length() > 0) {
                out.append('.');
            }
            out.append(part);
        }
        return out.length() > 0 ? out.toString() : path;
    }

    private static Object valueAt(Document document, String path) {
        Object current = document;
        for (String part : path.split("\\.")) {
            if (current instanceof Document) {
                Document d = (Document) current;
                if (!d.containsKey(part)) {
                    return MISSING;
                }
                current = d.get(part);
            } else if (current instanceof List && part.matches("\\d+")) {
                List<?> list = (List<?>) current;
                int index = Integer.parseInt(part);
                if (index >= list.size()) {
                    return MISSING;
                }
                current = list.get(index);
            } else {
                return MISSING;
            }
        }
        return current;
    }

    /** Same BSON type and bytes: 1 and 1.0 differ, as they do for MongoDB's no-op detection. */
    private static boolean sameValue(Object a, Object b) {
        if (a == MISSING || b == MISSING) {
            return a == b;
        }
        return Arrays.equals(StandInOplog.encode(new Document("v", a)), StandInOplog.encode(new Document("v", b)));
    }

    private static Object copy(Object value) {
        if (value instanceof Document) {
            return ((Document) value).cloneDeeply();
        }
        if (value instanceof Collection) {
            List<Object> list = new ArrayList<>();
            for (Object item : (Collection<?>) value) {
                list.add(copy(item));
            }
            return list;
        }
        return value;
    }
}
