import GRDB

/// The schema, as an ordered list of migrations. Released migrations are never edited: a
/// change to the schema is a new migration appended here.
enum StoreMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-peers-cidrs-associations-candidates") { db in
            try db.execute(sql: """
                CREATE TABLE cidrs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    cidr TEXT NOT NULL,
                    parent INTEGER REFERENCES cidrs(id) ON DELETE RESTRICT
                );
                CREATE TABLE peers (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL UNIQUE,
                    ip TEXT NOT NULL UNIQUE,
                    cidr_id INTEGER NOT NULL REFERENCES cidrs(id) ON DELETE RESTRICT,
                    public_key TEXT NOT NULL UNIQUE,
                    endpoint TEXT,
                    endpoint_overridden INTEGER NOT NULL DEFAULT 0,
                    persistent_keepalive INTEGER,
                    is_admin INTEGER NOT NULL DEFAULT 0,
                    is_disabled INTEGER NOT NULL DEFAULT 0,
                    is_redeemed INTEGER NOT NULL DEFAULT 0,
                    invite_expires REAL
                );
                CREATE INDEX peers_cidr ON peers(cidr_id);
                CREATE TABLE associations (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    cidr_id_1 INTEGER NOT NULL REFERENCES cidrs(id) ON DELETE CASCADE,
                    cidr_id_2 INTEGER NOT NULL REFERENCES cidrs(id) ON DELETE CASCADE,
                    CHECK (cidr_id_1 < cidr_id_2),
                    UNIQUE (cidr_id_1, cidr_id_2)
                );
                CREATE TABLE candidates (
                    peer_id INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    endpoint TEXT NOT NULL,
                    PRIMARY KEY (peer_id, position)
                );
                """)
        }
        migrator.registerMigration("v2-peer-nat-type") { db in
            try db.execute(sql: "ALTER TABLE peers ADD COLUMN nat_type TEXT")
        }
        // One relay per member, keyed by the member: a host runs one relay, and a member that
        // leaves takes its announcement with it. The endpoint column holds only an explicit
        // endpoint; without one, members are given the member's observed address at read time.
        migrator.registerMigration("v3-relays") { db in
            try db.execute(sql: """
                CREATE TABLE relays (
                    peer_id INTEGER PRIMARY KEY REFERENCES peers(id) ON DELETE CASCADE,
                    public_key TEXT NOT NULL UNIQUE,
                    port INTEGER NOT NULL,
                    endpoint TEXT,
                    latitude REAL,
                    longitude REAL,
                    country TEXT,
                    capacity INTEGER NOT NULL,
                    load INTEGER NOT NULL,
                    last_seen REAL NOT NULL
                );
                CREATE TABLE reported_relays (
                    peer_id INTEGER NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    public_key TEXT NOT NULL,
                    PRIMARY KEY (peer_id, position)
                );
                """)
        }
        return migrator
    }
}
