import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.BinData;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.BsonTimestamp;
import de.bwaldvogel.mongo.bson.Decimal128;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.LegacyUUID;
import de.bwaldvogel.mongo.bson.MaxKey;
import de.bwaldvogel.mongo.bson.MinKey;
import de.bwaldvogel.mongo.bson.ObjectId;

/**
 * $toHashedIndexKey in change stream pipelines, which the library does not know. The pipeline is rewritten before it
 * is parsed: {$toHashedIndexKey: "$path"} becomes a reference to a value computed per event, and so does
 * {$mod: [{$toHashedIndexKey: "$path"}, N]} (computed exactly on 64-bit integers; the library's $mod works on
 * doubles). The hash is MongoDB's hashed-index hash (MD5 of the canonical type and value, first 8 bytes little
 * endian, seed 0) for the usual _id types: numbers, strings, ObjectId, booleans, dates, null, binary data, UUIDs,
 * timestamps, documents and arrays.
 */
final class StandInHashedKeys {

    static final String FIELD = "__standInHashedKeys";

    /** What one placeholder stands for: the hash of a field path, optionally modulo a constant. */
    static final class Key {
        final String path;
        final Long modulo;

        Key(String path, Long modulo) {
            this.path = path;
            this.modulo = modulo;
        }
    }

    private final List<Key> keys = new ArrayList<>();

    List<Key> keys() {
        return keys;
    }

    /** Rewrites a pipeline (the stages after $changeStream), remembering the placeholders it introduces. */
    @SuppressWarnings("unchecked")
    List<Document> rewrite(List<Document> stages) {
        List<Document> out = new ArrayList<>();
        for (Document stage : stages) {
            out.add((Document) rewriteValue(stage));
        }
        return out;
    }

    private Object rewriteValue(Object value) {
        if (value instanceof Document) {
            Document document = (Document) value;
            if (document.size() == 1 && document.containsKey("$mod") && document.get("$mod") instanceof List) {
                List<?> args = (List<?>) document.get("$mod");
                if (args.size() == 2 && args.get(1) instanceof Number && !(args.get(1) instanceof Double)
                    && hashedPath(args.get(0)) != null && ((Number) args.get(1)).longValue() != 0) {
                    return placeholder(new Key(hashedPath(args.get(0)), ((Number) args.get(1)).longValue()));
                }
            }
            String path = hashedPath(document);
            if (path != null) {
                return placeholder(new Key(path, null));
            }
            Document copy = new Document();
            for (Map.Entry<String, Object> entry : document.entrySet()) {
                copy.put(entry.getKey(), rewriteValue(entry.getValue()));
            }
            return copy;
        }
        if (value instanceof List) {
            List<Object> copy = new ArrayList<>();
            for (Object item : (List<?>) value) {
                copy.add(rewriteValue(item));
            }
            return copy;
        }
        return value;
    }

    /** "$a.b" for {$toHashedIndexKey: "$a.b"}, else null. */
    private static String hashedPath(Object value) {
        if (value instanceof Document && ((Document) value).size() == 1) {
            Object arg = ((Document) value).get("$toHashedIndexKey");
            if (arg instanceof String && ((String) arg).startsWith("$") && !((String) arg).startsWith("$$")) {
                return ((String) arg).substring(1);
            }
        }
        return null;
    }

    private String placeholder(Key key) {
        keys.add(key);
        return "$" + FIELD + ".k" + (keys.size() - 1);
    }

    /** Adds the placeholder values of one event to it. */
    void addTo(Document event) {
        if (keys.isEmpty()) {
            return;
        }
        Document values = new Document();
        for (int i = 0; i < keys.size(); i++) {
            Key key = keys.get(i);
            long hash = hash64(valueAt(event, key.path));
            values.put("k" + i, key.modulo == null ? hash : hash % key.modulo);
        }
        event.put(FIELD, values);
    }

    private static Object valueAt(Document document, String path) {
        Object current = document;
        for (String part : path.split("\\.")) {
            if (!(current instanceof Document) || !((Document) current).containsKey(part)) {
                return null;
            }
            current = ((Document) current).get(part);
        }
        return current;
    }

    // ------------------------------------------------------------------ MongoDB's hashed index key

    static long hash64(Object value) {
        MessageDigest md5;
        try {
            md5 = MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        md5.update(int32(0)); // seed
        hashElement(md5, null, value);
        return ByteBuffer.wrap(md5.digest()).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static void hashElement(MessageDigest md5, String fieldName, Object value) {
        if (value instanceof Missing) {
            value = null;
        }
        md5.update(int32(canonicalType(value)));
        if (fieldName != null) {
            md5.update(cString(fieldName));
        }
        if (value instanceof Document) {
            for (Map.Entry<String, Object> entry : ((Document) value).entrySet()) {
                hashElement(md5, entry.getKey(), entry.getValue());
            }
            hashEndOfObject(md5);
        } else if (value instanceof List) {
            int index = 0;
            for (Object item : (List<?>) value) {
                hashElement(md5, Integer.toString(index++), item);
            }
            hashEndOfObject(md5);
        } else if (value instanceof Number) {
            md5.update(int64(numberForHash((Number) value)));
        } else if (value instanceof String) {
            byte[] bytes = ((String) value).getBytes(StandardCharsets.UTF_8);
            md5.update(int32(bytes.length + 1));
            md5.update(bytes);
            md5.update((byte) 0);
        } else if (value instanceof ObjectId) {
            md5.update(((ObjectId) value).toByteArray());
        } else if (value instanceof Boolean) {
            md5.update((byte) (((Boolean) value) ? 1 : 0));
        } else if (value instanceof Instant) {
            md5.update(int64(((Instant) value).toEpochMilli()));
        } else if (value instanceof BsonTimestamp) {
            md5.update(int64(((BsonTimestamp) value).getValue()));
        } else if (value instanceof BinData) {
            byte[] data = ((BinData) value).getData();
            md5.update(int32(data.length));
            md5.update((byte) 0);
            md5.update(data);
        } else if (value instanceof UUID) {
            UUID uuid = (UUID) value;
            md5.update(int32(16));
            md5.update((byte) 4);
            md5.update(ByteBuffer.allocate(16).putLong(uuid.getMostSignificantBits())
                .putLong(uuid.getLeastSignificantBits()).array());
        } else if (value instanceof LegacyUUID) {
            UUID uuid = ((LegacyUUID) value).getUuid();
            md5.update(int32(16));
            md5.update((byte) 3);
            md5.update(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(uuid.getMostSignificantBits())
                .putLong(uuid.getLeastSignificantBits()).array());
        } else if (value instanceof BsonRegularExpression) {
            BsonRegularExpression regex = (BsonRegularExpression) value;
            md5.update(cString(regex.getPattern()));
            md5.update(cString(regex.getOptions()));
        }
        // null, MinKey, MaxKey: no value bytes
    }

    private static void hashEndOfObject(MessageDigest md5) {
        md5.update(int32(0)); // EOO: canonical type 0, empty field name, no value
        md5.update((byte) 0);
    }

    private static int canonicalType(Object value) {
        if (value == null) {
            return 5;
        } else if (value instanceof MinKey) {
            return -1;
        } else if (value instanceof MaxKey) {
            return 127;
        } else if (value instanceof Number) {
            return 10;
        } else if (value instanceof String) {
            return 15;
        } else if (value instanceof Document) {
            return 20;
        } else if (value instanceof List) {
            return 25;
        } else if (value instanceof BinData || value instanceof UUID || value instanceof LegacyUUID) {
            return 30;
        } else if (value instanceof ObjectId) {
            return 35;
        } else if (value instanceof Boolean) {
            return 40;
        } else if (value instanceof Instant) {
            return 45;
        } else if (value instanceof BsonTimestamp) {
            return 47;
        } else if (value instanceof BsonRegularExpression) {
            return 50;
        }
        throw new IllegalArgumentException("$toHashedIndexKey: unsupported type " + value.getClass().getSimpleName());
    }

    /** Doubles are truncated towards zero and clamped; NaN hashes like 0. */
    private static long numberForHash(Number number) {
        if (number instanceof Double || number instanceof Float) {
            double d = number.doubleValue();
            if (Double.isNaN(d)) {
                return 0;
            }
            if (d >= 0x1p63) {
                return Long.MAX_VALUE;
            }
            if (d < -0x1p63) {
                return Long.MIN_VALUE;
            }
            return (long) d;
        }
        if (number instanceof Decimal128) {
            BigDecimal decimal = ((Decimal128) number).toBigDecimal();
            if (decimal.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) >= 0) {
                return Long.MAX_VALUE;
            }
            if (decimal.compareTo(BigDecimal.valueOf(Long.MIN_VALUE)) <= 0) {
                return Long.MIN_VALUE;
            }
            return decimal.longValue();
        }
        return number.longValue();
    }

    private static byte[] int32(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array();
    }

    private static byte[] int64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    private static byte[] cString(String value) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, out, 0, bytes.length);
        return out;
    }
}
