import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;

import io.netty.channel.Channel;

/** Memory backend with the stand-in's oplog and command layer. */
final class StandInMemoryBackend extends MemoryBackend {
    private final int oplogMaxEntries;
    private StandInCommands commands;

    StandInMemoryBackend(int oplogMaxEntries) {
        this.oplogMaxEntries = oplogMaxEntries;
    }

    void setCommands(StandInCommands commands) {
        this.commands = commands;
    }

    @Override
    protected Oplog createOplog() {
        return commands.createOplog(getCursorRegistry(), getClock(), null, oplogMaxEntries);
    }

    @Override
    public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
        return commands.handle(channel, databaseName, command, query, super::handleCommand);
    }
}
