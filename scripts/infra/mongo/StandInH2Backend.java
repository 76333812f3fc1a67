import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;

import io.netty.channel.Channel;

/** H2 (file or memory) backend with the stand-in's oplog and command layer. */
final class StandInH2Backend extends H2Backend {
    private final int oplogMaxEntries;
    private StandInCommands commands;

    StandInH2Backend(MVStore store, int oplogMaxEntries) {
        super(store);
        this.oplogMaxEntries = oplogMaxEntries;
    }

    void setCommands(StandInCommands commands) {
        this.commands = commands;
    }

    @Override
    protected MongoDatabase openOrCreateDatabase(String databaseName) {
        return new StandInH2Database(databaseName, getMvStore(), getCursorRegistry());
    }

    @Override
    protected Oplog createOplog() {
        MVMap<Long, byte[]> map = getMvStore().openMap("stand-in.oplog");
        return commands.createOplog(getCursorRegistry(), getClock(), map, oplogMaxEntries);
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        return commands.handle(channel, databaseName, command, query, super::handleCommand);
    }
}

