import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * Local MongoDB stand-in for development and CI: mongo-java-server (in-process Java implementation of the MongoDB
 * wire protocol) with an oplog of our own (StandInOplog) and a command layer (StandInCommands) so that it looks like
 * a one-member replica set and its change streams look like MongoDB's: documentKey, ns, wallTime,
 * updateDescription, replace/rename/drop/dropDatabase/invalidate events, resumable tokens, postBatchResumeToken,
 * operationTime/$clusterTime, database- and cluster-wide streams, events for findAndModify, $toHashedIndexKey in
 * change stream pipelines (StandInHashedKeys), and a fix for the H2 backend's dropDatabase (StandInH2Database).
 * Writes go through StandInWrites: each document is changed and logged in one step, or refused and left unchanged.
 * With the H2 backend the data and the oplog are kept in one file and survive a restart (SIGTERM closes the file
 * cleanly; kill -9 loses at most the last MONGO_COMMIT_DELAY_MS of writes, each with its oplog entry).
 *
 * <pre>
 *   java MongoStandIn [HOST [PORT [DATA_FILE]]]       start the server (runs until SIGTERM/SIGINT)
 *   java MongoStandIn ping [HOST [PORT]]              exit 0 when a server answers the ping command
 * </pre>
 *
 * Environment (arguments win):
 *   MONGO_HOST (127.0.0.1), MONGO_PORT (27017), MONGO_DATA_FILE (H2 file; empty = in memory)
 *   MONGO_BACKEND            h2 | memory (default h2)
 *   MONGO_COMMIT_DELAY_MS    H2 commit interval, i.e. what a kill -9 may lose (default 200)
 *   MONGO_COMPAT             1 (default): the stand-in's oplog and replica-set command layer (StandInOplog,
 *                            StandInCommands); 0: the library as it is (its own oplog, standalone server)
 *   MONGO_REPLICA_SET        replica set name reported by hello (default rs0; empty: standalone), compat only
 *   MONGO_OPLOG_MAX_ENTRIES  cap of the oplog (default 0 = unlimited), compat only
 *   MONGO_REPORTED_VERSION   "version:wireVersion" reported by hello/buildInfo (default 5.0:13 with compat,
 *                            else the library's 5.0:8, which the Node driver 7 refuses)
 *   MONGO_WORKER_THREADS     network threads (default 64): a change stream getMore waits on one of them
 */
public final class MongoStandIn {

    private MongoStandIn() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("ping")) {
            String host = arg(args, 1, "MONGO_HOST", "127.0.0.1");
            int port = Integer.parseInt(arg(args, 2, "MONGO_PORT", "27017"));
            System.exit(ping(host, port) ? 0 : 1);
        }

        String host = arg(args, 0, "MONGO_HOST", "127.0.0.1");
        int port = Integer.parseInt(arg(args, 1, "MONGO_PORT", "27017"));
        String dataFile = arg(args, 2, "MONGO_DATA_FILE", "");
        String backendName = env("MONGO_BACKEND", "h2");
        int commitDelayMs = Integer.parseInt(env("MONGO_COMMIT_DELAY_MS", "200"));

        boolean compat = !env("MONGO_COMPAT", "1").equals("0");
        int oplogMaxEntries = Integer.parseInt(env("MONGO_OPLOG_MAX_ENTRIES", "0"));
        String replicaSet = System.getenv("MONGO_REPLICA_SET") == null ? "rs0" : System.getenv("MONGO_REPLICA_SET");
        int workerThreads = Integer.parseInt(env("MONGO_WORKER_THREADS", "64"));
        MongoVersion version = reportedVersion(env("MONGO_REPORTED_VERSION", compat ? "5.0:13" : "5.0:8"));
        StandInCommands commands = null;
        MVStore committedStore = null; // the H2 store that the command layer commits

        final MongoBackend backend;
        String description;
        if (backendName.equals("memory")) {
            if (compat) {
                StandInMemoryBackend memory = new StandInMemoryBackend(oplogMaxEntries);
                commands = new StandInCommands(memory, replicaSet, host + ":" + port, version);
                memory.setCommands(commands);
                backend = memory;
            } else {
                backend = new MemoryBackend();
            }
            description = "memory backend (nothing survives a restart)";
        } else if (backendName.equals("h2")) {
            MVStore.Builder builder = new MVStore.Builder();
            if (!dataFile.isEmpty()) {
                File parent = new File(dataFile).getAbsoluteFile().getParentFile();
                if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
                    throw new IOException("cannot create " + parent);
                }
                builder.fileName(dataFile);
                description = "H2 backend in " + dataFile;
            } else {
                description = "H2 backend in memory (nothing survives a restart)";
            }
            if (compat) {
                // StandInCommands.commitEvery commits instead, never between a change and its oplog entry
                builder.autoCommitDisabled().autoCommitBufferSize(0);
            }
            MVStore store = builder.open();
            if (compat) {
                committedStore = store;
                StandInH2Backend h2 = new StandInH2Backend(store, oplogMaxEntries);
                commands = new StandInCommands(h2, replicaSet, host + ":" + port, version);
                h2.setCommands(commands);
                backend = h2;
            } else {
                store.setAutoCommitDelay(commitDelayMs); // bounds what a kill -9 can lose
                backend = new H2Backend(store);
            }
        } else {
            throw new IllegalArgumentException("MONGO_BACKEND must be h2 or memory, not " + backendName);
        }
        backend.version(version);
        description += compat
            ? (replicaSet.isEmpty() ? ", standalone" : ", replica set " + replicaSet) + ", stand-in oplog"
                + (oplogMaxEntries > 0 ? " capped at " + oplogMaxEntries + " entries" : "")
            : ", the library's own oplog";

        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        if (committedStore != null) {
            commands.commitEvery(committedStore, commitDelayMs);
        }
        server.bind(new InetSocketAddress(host, port), 1, workerThreads);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("mongo stand-in: shutting down");
            try {
                // closes client connections, then the backend; H2 writes its last changes and closes the file
                server.shutdownNow();
            } catch (RuntimeException e) {
                e.printStackTrace();
            }
            System.out.println("mongo stand-in: stopped");
            System.out.flush();
            stopped.countDown();
        }, "mongo-stand-in-shutdown"));

        System.out.println("mongo stand-in: listening on " + host + ":" + port + " with " + description
            + ", reporting version " + version.toVersionString() + " (wire " + version.getWireVersion() + ")");
        System.out.flush();
        stopped.await();
    }

    /**
     * "4.4:9" reports server version 4.4 with wire version 9 in isMaster/buildInfo. The library's own default
     * (5.0.0 with wire version 8) is below what the Node driver 7 accepts; the behaviour of the server does not
     * depend on the reported version.
     */
    private static MongoVersion reportedVersion(String spec) {
        String[] parts = spec.split(":", 2);
        if (parts.length != 2) {
            throw new IllegalArgumentException("MONGO_REPORTED_VERSION must look like 4.4:9, not " + spec);
        }
        List<Integer> versionArray = new ArrayList<>();
        for (String number : parts[0].split("\\.")) {
            versionArray.add(Integer.valueOf(number));
        }
        while (versionArray.size() < 3) {
            versionArray.add(0);
        }
        int wireVersion = Integer.parseInt(parts[1]);
        return new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return versionArray;
            }

            @Override
            public int getWireVersion() {
                return wireVersion;
            }
        };
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    private static String arg(String[] args, int index, String envName, String fallback) {
        return args.length > index && !args[index].isEmpty() ? args[index] : env(envName, fallback);
    }

    /** Sends {ping: 1} as an OP_MSG and checks that the reply says ok: 1. */
    static boolean ping(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 2000);
            socket.setSoTimeout(5000);

            byte[] body = bsonDocument(
                bsonInt32("ping", 1),
                bsonString("$db", "admin"));
            ByteBuffer message = ByteBuffer.allocate(16 + 4 + 1 + body.length).order(ByteOrder.LITTLE_ENDIAN);
            message.putInt(message.capacity()); // messageLength
            message.putInt(1);                  // requestID
            message.putInt(0);                  // responseTo
            message.putInt(2013);               // opCode OP_MSG
            message.putInt(0);                  // flagBits
            message.put((byte) 0);              // section kind 0: body
            message.put(body);
            OutputStream out = socket.getOutputStream();
            out.write(message.array());
            out.flush();

            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] lengthBytes = new byte[4];
            in.readFully(lengthBytes);
            int length = ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getInt();
            if (length < 21 || length > 16 * 1024 * 1024) {
                return false;
            }
            byte[] rest = new byte[length - 4];
            in.readFully(rest);
            ByteBuffer reply = ByteBuffer.wrap(rest).order(ByteOrder.LITTLE_ENDIAN);
            reply.position(8);
            if (reply.getInt() != 2013) {
                return false;
            }
            reply.position(reply.position() + 5); // flagBits, section kind
            return replyIsOk(reply);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Looks for the top-level "ok" field of the BSON document at the buffer's position. */
    private static boolean replyIsOk(ByteBuffer doc) {
        int start = doc.position();
        int end = start + doc.getInt();
        while (doc.position() < end - 1) {
            byte type = doc.get();
            StringBuilder name = new StringBuilder();
            for (byte b = doc.get(); b != 0; b = doc.get()) {
                name.append((char) b);
            }
            boolean isOk = name.toString().equals("ok");
            switch (type) {
                case 0x01: { double v = doc.getDouble(); if (isOk) { return v == 1.0; } break; }
                case 0x10: { int v = doc.getInt(); if (isOk) { return v == 1; } break; }
                case 0x12: { long v = doc.getLong(); if (isOk) { return v == 1L; } break; }
                case 0x08: { byte v = doc.get(); if (isOk) { return v == 1; } break; }
                case 0x02: { int n = doc.getInt(); doc.position(doc.position() + n); break; }
                case 0x03: case 0x04: { int n = doc.getInt(); doc.position(doc.position() - 4 + n); break; }
                case 0x09: case 0x11: doc.position(doc.position() + 8); break;
                case 0x0A: break;
                default: return false;
            }
        }
        return false;
    }

    private static byte[] bsonDocument(byte[]... elements) {
        int size = 4 + 1;
        for (byte[] element : elements) {
            size += element.length;
        }
        ByteBuffer buffer = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(size);
        for (byte[] element : elements) {
            buffer.put(element);
        }
        buffer.put((byte) 0);
        return buffer.array();
    }

    private static byte[] bsonInt32(String name, int value) {
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(1 + key.length + 1 + 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put((byte) 0x10).put(key).put((byte) 0).putInt(value);
        return buffer.array();
    }

    private static byte[] bsonString(String name, String value) {
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(1 + key.length + 1 + 4 + bytes.length + 1).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put((byte) 0x02).put(key).put((byte) 0).putInt(bytes.length + 1).put(bytes).put((byte) 0);
        return buffer.array();
    }
}
