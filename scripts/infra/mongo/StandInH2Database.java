import java.util.ArrayList;
import java.util.List;

import org.h2.mvstore.MVStore;

import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.oplog.Oplog;

/**
 * H2Database.drop removes every map whose name merely starts with the database's name, i.e. also the maps of a
 * database "NAME_other" or "NAME2" (their data is lost and their open collections fail with "Map … is closed"). This
 * drops the database's collections one by one and then removes only the database's own maps.
 */
final class StandInH2Database extends H2Database {
    private final MVStore store;

    StandInH2Database(String databaseName, MVStore store, CursorRegistry cursorRegistry) {
        super(databaseName, store, cursorRegistry);
        this.store = store;
    }

    @Override
    public void drop(Oplog oplog) {
        String prefix = getDatabaseName() + ".";
        List<String> names = new ArrayList<>();
        MongoCollection<?> namespaces = resolveCollection("system.namespaces", false);
        if (namespaces != null) {
            for (Document namespace : namespaces.handleQuery(new Document())) {
                String fullName = String.valueOf(namespace.get("name"));
                if (fullName.startsWith(prefix)) {
                    names.add(fullName.substring(prefix.length()));
                }
            }
        }
        for (String name : names) {
            if (!name.startsWith("system.") && resolveCollection(name, false) != null) {
                dropCollection(name, oplog);
            }
        }
        for (String name : List.of("system.indexes", "system.namespaces")) {
            if (resolveCollection(name, false) != null) {
                dropCollection(name, oplog);
            }
        }
        String db = getDatabaseName();
        for (String map : new ArrayList<>(store.getMapNames())) {
            if (map.startsWith(db + ".") || map.startsWith("databases." + db + ".") || map.startsWith("meta." + db + ".")) {
                store.removeMap(map);
            }
        }
    }
}

