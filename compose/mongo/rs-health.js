// Healthcheck of the primary mongo container (run by mongosh):
//  - authenticates as root from the container's environment, so the password is on no command line (ps, logs);
//  - initiates the replica set the first time (members from MONGO_RS_MEMBERS, the first one preferred as primary);
//  - exits 0 only once this member is a writable PRIMARY, so `depends_on: service_healthy` means "ready for writes".
// Replica-set member names are the compose service names: clients inside the network use them; clients on the
// host connect to the published port with directConnection=true.
const name = process.env.MONGO_REPLICA_SET || 'rs0';
const members = (process.env.MONGO_RS_MEMBERS || 'mongo:27017').split(',').map((h) => h.trim()).filter(Boolean);
const user = process.env.MONGO_INITDB_ROOT_USERNAME;
if (user) db.getSiblingDB('admin').auth(user, process.env.MONGO_INITDB_ROOT_PASSWORD);

let initiated = true;
try {
  rs.status();
} catch (error) {
  if (error.codeName !== 'NotYetInitialized' && error.code !== 94) throw error;
  initiated = false;
}
if (!initiated) {
  rs.initiate({
    _id: name,
    members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  });
  print(`replica set ${name} initiated with ${members.join(', ')}`);
}
quit(db.hello().isWritablePrimary ? 0 : 1);
