#!/usr/bin/env python3
"""Kamailio's credentials for the same devices as Switchboard's: reads the SIPp CSV that
bench_provision wrote (name;password;[authentication ...]) and writes creds.sqlite with the
htable Kamailio loads at start (HA1 = MD5(name:ccm.test:password); Kamailio's realm is the To
domain). Usage: gen_kamailio_creds.py <csv> <creds.sqlite>"""
import hashlib, os, sqlite3, sys

csv, out = sys.argv[1], sys.argv[2]
if os.path.exists(out):
    os.remove(out)
db = sqlite3.connect(out)
db.executescript("""
CREATE TABLE version (id INTEGER PRIMARY KEY NOT NULL, table_name VARCHAR(32) NOT NULL,
  table_version INTEGER DEFAULT 0 NOT NULL, CONSTRAINT version_table_name_idx UNIQUE (table_name));
INSERT INTO version (table_name, table_version) VALUES ('version',1),('subscriber',7),('htable',2);
CREATE TABLE subscriber (id INTEGER PRIMARY KEY NOT NULL, username VARCHAR(64) DEFAULT '' NOT NULL,
  domain VARCHAR(64) DEFAULT '' NOT NULL, password VARCHAR(64) DEFAULT '' NOT NULL,
  ha1 VARCHAR(128) DEFAULT '' NOT NULL, ha1b VARCHAR(128) DEFAULT '' NOT NULL,
  CONSTRAINT subscriber_account_idx UNIQUE (username, domain));
CREATE TABLE htable (id INTEGER PRIMARY KEY NOT NULL, key_name VARCHAR(64) DEFAULT '' NOT NULL,
  key_type INTEGER DEFAULT 0 NOT NULL, value_type INTEGER DEFAULT 0 NOT NULL,
  key_value VARCHAR(128) DEFAULT '' NOT NULL, expires INTEGER DEFAULT 0 NOT NULL);
""")
rows = []
with open(csv) as f:
    next(f)
    for line in f:
        name, password = line.split(";")[:2]
        ha1 = hashlib.md5(f"{name}:ccm.test:{password}".encode()).hexdigest()
        rows.append((name, 0, 0, ha1, 0))  # key type 0 = name, value type 0 = string
db.executemany("INSERT INTO htable (key_name, key_type, value_type, key_value, expires) VALUES (?,?,?,?,?)", rows)
db.commit()
print(f"{len(rows)} credentials -> {out}")
