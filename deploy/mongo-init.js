// Run by docker-compose.yml's mongo-init service (mongosh, as root): initiates the one-member replica set
// and creates the least-privilege users. Running it again changes nothing but the users' passwords.
try {
  rs.status();
} catch (e) {  // NotYetInitialized
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
while (!db.hello().isWritablePrimary) sleep(500);

const admin = db.getSiblingDB("admin");
const users = [
  // The workers and `backlinks init`: write edges, create the indexes (readWrite includes createIndex).
  ["crawler", process.env.MONGO_CRAWLER_PASSWORD, "readWrite"],
  // `backlinks serve` and the query commands: read only, so it can neither write nor create.
  ["reader", process.env.MONGO_READER_PASSWORD, "read"],
];
for (const [user, pwd, role] of users) {
  const roles = [{ role: role, db: "backlinks" }];
  if (admin.getUser(user)) admin.updateUser(user, { pwd: pwd, roles: roles });
  else admin.createUser({ user: user, pwd: pwd, roles: roles });
}
print("replica set rs0 ready; users crawler (readWrite) and reader (read) on backlinks");
