--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: cc_v2_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA cc_v2_fixture;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: blocks; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.blocks (
    id bigint NOT NULL,
    height bigint NOT NULL,
    hash text NOT NULL,
    prev_hash text NOT NULL,
    "time" bigint NOT NULL,
    status text NOT NULL,
    reorg_id bigint,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT ck_blocks_status CHECK ((status = ANY (ARRAY['canonical'::text, 'orphaned'::text])))
);


--
-- Name: blocks_id_seq; Type: SEQUENCE; Schema: cc_v2_fixture; Owner: -
--

CREATE SEQUENCE cc_v2_fixture.blocks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: blocks_id_seq; Type: SEQUENCE OWNED BY; Schema: cc_v2_fixture; Owner: -
--

ALTER SEQUENCE cc_v2_fixture.blocks_id_seq OWNED BY cc_v2_fixture.blocks.id;


--
-- Name: checkpoints; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.checkpoints (
    subscriber text NOT NULL,
    "position" bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: collection_undo; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.collection_undo (
    block_height bigint NOT NULL,
    model text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL COLLATE pg_catalog."C",
    old_value json
);


--
-- Name: collection_values; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.collection_values (
    model text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL COLLATE pg_catalog."C",
    value json NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.events (
    "position" bigint NOT NULL,
    model text NOT NULL,
    version bigint NOT NULL,
    event_type text NOT NULL,
    event_version integer NOT NULL,
    payload json NOT NULL,
    block_height bigint NOT NULL,
    block_hash text NOT NULL,
    status text NOT NULL,
    reorg_id bigint,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT ck_events_status CHECK ((status = ANY (ARRAY['active'::text, 'rolled_back'::text])))
);


--
-- Name: meta; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.meta (
    key text NOT NULL,
    value text NOT NULL
);


--
-- Name: models; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.models (
    name text NOT NULL,
    version text,
    registered_at timestamp with time zone NOT NULL
);


--
-- Name: reorgs; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.reorgs (
    id bigint NOT NULL,
    fork_height bigint NOT NULL,
    fork_hash text NOT NULL,
    old_tip_height bigint NOT NULL,
    old_tip_hash text NOT NULL,
    new_tip_hash text,
    depth integer NOT NULL,
    rolled_back_events bigint NOT NULL,
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: reorgs_id_seq; Type: SEQUENCE; Schema: cc_v2_fixture; Owner: -
--

CREATE SEQUENCE cc_v2_fixture.reorgs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: reorgs_id_seq; Type: SEQUENCE OWNED BY; Schema: cc_v2_fixture; Owner: -
--

ALTER SEQUENCE cc_v2_fixture.reorgs_id_seq OWNED BY cc_v2_fixture.reorgs.id;


--
-- Name: snapshots; Type: TABLE; Schema: cc_v2_fixture; Owner: -
--

CREATE TABLE cc_v2_fixture.snapshots (
    model text NOT NULL,
    block_height bigint NOT NULL,
    block_hash text NOT NULL,
    state json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: blocks id; Type: DEFAULT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.blocks ALTER COLUMN id SET DEFAULT nextval('cc_v2_fixture.blocks_id_seq'::regclass);


--
-- Name: reorgs id; Type: DEFAULT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.reorgs ALTER COLUMN id SET DEFAULT nextval('cc_v2_fixture.reorgs_id_seq'::regclass);


--
-- Data for Name: blocks; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.blocks VALUES (1, 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', '0ed32d3352f0cddd88b03a266c387e1a4683d5356ce381463b4b42cf9ccadfaf', 1600000001, 'canonical', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.blocks VALUES (2, 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 1600000002, 'canonical', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.blocks VALUES (3, 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 1600000003, 'canonical', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.blocks VALUES (4, 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 1600000004, 'canonical', NULL, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.blocks VALUES (5, 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 1600000005, 'orphaned', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.blocks VALUES (6, 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 1600000006, 'orphaned', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.blocks VALUES (7, 5, '9cb6ee7cc81bd6246f5f766669eadb1b9c1a391d636761da963131daf9783ef7', 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 1600000005, 'canonical', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.blocks VALUES (8, 6, 'c89fb184b219a6d003432c0cb71c24791dda5dbb234a36955985d00ead42413d', '9cb6ee7cc81bd6246f5f766669eadb1b9c1a391d636761da963131daf9783ef7', 1600000006, 'canonical', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.blocks VALUES (9, 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 'c89fb184b219a6d003432c0cb71c24791dda5dbb234a36955985d00ead42413d', 1600000007, 'canonical', NULL, '2026-12-02 00:39:16.43468+00');


--
-- Data for Name: checkpoints; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.checkpoints VALUES ('ws', 9, '2026-12-02 00:39:16.441686+00');


--
-- Data for Name: collection_undo; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.collection_undo VALUES (1, 'deposits', 'seen', 'k1', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (1, 'deposits', 'seen', 'shared', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (1, 'balances', 'by_addr', 'bcrt1q₿1', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (1, 'deposits', 'seen', 'k0', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (2, 'deposits', 'seen', 'k2', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (2, 'deposits', 'seen', 'shared', '{"z": 1, "a": ["2b2c40"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (2, 'balances', 'by_addr', 'bcrt1q₿2', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (3, 'deposits', 'seen', 'k3', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (3, 'deposits', 'seen', 'shared', '{"z": 2, "a": ["d860d1"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (3, 'balances', 'by_addr', 'bcrt1q₿3', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (3, 'deposits', 'seen', 'k2', '{"z": 2, "a": ["d860d1"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (4, 'deposits', 'seen', 'k4', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (4, 'deposits', 'seen', 'shared', '{"z": 3, "a": ["579d74"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (4, 'balances', 'by_addr', 'bcrt1q₿4', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (5, 'deposits', 'seen', 'k5', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (5, 'deposits', 'seen', 'shared', '{"z": 4, "a": ["a81639"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (5, 'balances', 'by_addr', 'bcrt1q₿5', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (5, 'deposits', 'seen', 'k4', '{"z": 4, "a": ["a81639"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (6, 'deposits', 'seen', 'k6', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (6, 'deposits', 'seen', 'shared', '{"z": 5, "a": ["9cb6ee"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (6, 'balances', 'by_addr', 'bcrt1q₿6', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (7, 'deposits', 'seen', 'k7', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (7, 'deposits', 'seen', 'shared', '{"z": 6, "a": ["c89fb1"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_undo VALUES (7, 'balances', 'by_addr', 'bcrt1q₿7', NULL);
INSERT INTO cc_v2_fixture.collection_undo VALUES (7, 'deposits', 'seen', 'k6', '{"z": 6, "a": ["c89fb1"], "\u00fc": {"y": 1, "b": 2}}');


--
-- Data for Name: collection_values; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿2', '2000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('deposits', 'seen', 'k3', '{"z": 3, "a": ["579d74"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿3', '3000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿1', '1000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('deposits', 'seen', 'k1', '{"z": 1, "a": ["2b2c40"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿4', '4000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('deposits', 'seen', 'k5', '{"z": 5, "a": ["9cb6ee"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_values VALUES ('deposits', 'seen', 'shared', '{"z": 7, "a": ["e74bbf"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿5', '5000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿7', '7000');
INSERT INTO cc_v2_fixture.collection_values VALUES ('deposits', 'seen', 'k7', '{"z": 7, "a": ["e74bbf"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v2_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿6', '6000');


--
-- Data for Name: events; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.events VALUES (1, 'deposits', 1, 'Seen', 1, '{"zeta": 1, "a": 0, "address": "bcrt1q2b2c40a670", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (2, 'balances', 1, 'Seen', 1, '{"zeta": 1, "a": 1, "address": "bcrt1q2b2c40a670", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (3, 'deposits', 2, 'Seen', 1, '{"zeta": 2, "a": 0, "address": "bcrt1qd860d1415d", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (4, 'balances', 2, 'Seen', 1, '{"zeta": 2, "a": 1, "address": "bcrt1qd860d1415d", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (5, 'deposits', 3, 'Seen', 1, '{"zeta": 3, "a": 0, "address": "bcrt1q579d74b93f", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (6, 'balances', 3, 'Seen', 1, '{"zeta": 3, "a": 1, "address": "bcrt1q579d74b93f", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'active', NULL, '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.events VALUES (7, 'deposits', 4, 'Seen', 1, '{"zeta": 4, "a": 0, "address": "bcrt1qa816396c1a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 'active', NULL, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (8, 'balances', 4, 'Seen', 1, '{"zeta": 4, "a": 1, "address": "bcrt1qa816396c1a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 'active', NULL, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (9, 'deposits', 5, 'Seen', 1, '{"zeta": 5, "a": 0, "address": "bcrt1qd9beb43890", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'rolled_back', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (10, 'balances', 5, 'Seen', 1, '{"zeta": 5, "a": 1, "address": "bcrt1qd9beb43890", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'rolled_back', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (11, 'deposits', 6, 'Seen', 1, '{"zeta": 6, "a": 0, "address": "bcrt1q7903c474b1", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'rolled_back', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (12, 'balances', 6, 'Seen', 1, '{"zeta": 6, "a": 1, "address": "bcrt1q7903c474b1", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'rolled_back', 1, '2026-12-02 00:39:16.418925+00');
INSERT INTO cc_v2_fixture.events VALUES (13, 'deposits', 5, 'Seen', 1, '{"zeta": 5, "a": 0, "address": "bcrt1q9cb6ee7cc8", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, '9cb6ee7cc81bd6246f5f766669eadb1b9c1a391d636761da963131daf9783ef7', 'active', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.events VALUES (14, 'balances', 5, 'Seen', 1, '{"zeta": 5, "a": 1, "address": "bcrt1q9cb6ee7cc8", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, '9cb6ee7cc81bd6246f5f766669eadb1b9c1a391d636761da963131daf9783ef7', 'active', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.events VALUES (15, 'deposits', 6, 'Seen', 1, '{"zeta": 6, "a": 0, "address": "bcrt1qc89fb184b2", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, 'c89fb184b219a6d003432c0cb71c24791dda5dbb234a36955985d00ead42413d', 'active', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.events VALUES (16, 'balances', 6, 'Seen', 1, '{"zeta": 6, "a": 1, "address": "bcrt1qc89fb184b2", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, 'c89fb184b219a6d003432c0cb71c24791dda5dbb234a36955985d00ead42413d', 'active', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.events VALUES (17, 'deposits', 7, 'Seen', 1, '{"zeta": 7, "a": 0, "address": "bcrt1qe74bbf6a8a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 'active', NULL, '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.events VALUES (18, 'balances', 7, 'Seen', 1, '{"zeta": 7, "a": 1, "address": "bcrt1qe74bbf6a8a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 'active', NULL, '2026-12-02 00:39:16.43468+00');


--
-- Data for Name: meta; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.meta VALUES ('schema_version', '2');
INSERT INTO cc_v2_fixture.meta VALUES ('network', 'regtest');
INSERT INTO cc_v2_fixture.meta VALUES ('genesis_hash', '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206');
INSERT INTO cc_v2_fixture.meta VALUES ('created_at', '2026-12-02T00:39:16.293662+00:00');


--
-- Data for Name: models; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.models VALUES ('balances', NULL, '2026-12-02 00:39:16.39116+00');
INSERT INTO cc_v2_fixture.models VALUES ('quiet', NULL, '2026-12-02 00:39:16.39116+00');
INSERT INTO cc_v2_fixture.models VALUES ('deposits', '2', '2026-12-02 00:39:16.39116+00');


--
-- Data for Name: reorgs; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.reorgs VALUES (1, 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 2, 4, 9, 12, '2026-12-02 00:39:16.426656+00');


--
-- Data for Name: snapshots; Type: TABLE DATA; Schema: cc_v2_fixture; Owner: -
--

INSERT INTO cc_v2_fixture.snapshots VALUES ('deposits', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', '{"tip": 3, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "deposits"}', '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.snapshots VALUES ('balances', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', '{"tip": 3, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "balances"}', '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.snapshots VALUES ('quiet', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', '{"tip": 3, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "quiet"}', '2026-12-02 00:39:16.398685+00');
INSERT INTO cc_v2_fixture.snapshots VALUES ('deposits', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', '{"tip": 7, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "deposits"}', '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.snapshots VALUES ('balances', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', '{"tip": 7, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "balances"}', '2026-12-02 00:39:16.43468+00');
INSERT INTO cc_v2_fixture.snapshots VALUES ('quiet', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', '{"tip": 7, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "quiet"}', '2026-12-02 00:39:16.43468+00');


--
-- Name: blocks_id_seq; Type: SEQUENCE SET; Schema: cc_v2_fixture; Owner: -
--

SELECT pg_catalog.setval('cc_v2_fixture.blocks_id_seq', 9, true);


--
-- Name: reorgs_id_seq; Type: SEQUENCE SET; Schema: cc_v2_fixture; Owner: -
--

SELECT pg_catalog.setval('cc_v2_fixture.reorgs_id_seq', 1, true);


--
-- Name: blocks blocks_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.blocks
    ADD CONSTRAINT blocks_pkey PRIMARY KEY (id);


--
-- Name: checkpoints checkpoints_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.checkpoints
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (subscriber);


--
-- Name: collection_undo collection_undo_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.collection_undo
    ADD CONSTRAINT collection_undo_pkey PRIMARY KEY (block_height, model, collection, key);


--
-- Name: collection_values collection_values_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.collection_values
    ADD CONSTRAINT collection_values_pkey PRIMARY KEY (model, collection, key);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.events
    ADD CONSTRAINT events_pkey PRIMARY KEY ("position");


--
-- Name: meta meta_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (key);


--
-- Name: models models_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.models
    ADD CONSTRAINT models_pkey PRIMARY KEY (name);


--
-- Name: reorgs reorgs_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.reorgs
    ADD CONSTRAINT reorgs_pkey PRIMARY KEY (id);


--
-- Name: snapshots snapshots_pkey; Type: CONSTRAINT; Schema: cc_v2_fixture; Owner: -
--

ALTER TABLE ONLY cc_v2_fixture.snapshots
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (model, block_height);


--
-- Name: ix_blocks_hash; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE INDEX ix_blocks_hash ON cc_v2_fixture.blocks USING btree (hash);


--
-- Name: ix_blocks_status_height; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE INDEX ix_blocks_status_height ON cc_v2_fixture.blocks USING btree (status, height);


--
-- Name: ix_events_active_block_height; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE INDEX ix_events_active_block_height ON cc_v2_fixture.events USING btree (block_height, "position") WHERE (status = 'active'::text);


--
-- Name: ix_events_active_model_position; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE INDEX ix_events_active_model_position ON cc_v2_fixture.events USING btree (model, "position") WHERE (status = 'active'::text);


--
-- Name: ix_snapshots_block_height; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE INDEX ix_snapshots_block_height ON cc_v2_fixture.snapshots USING btree (block_height);


--
-- Name: ux_blocks_canonical_height; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE UNIQUE INDEX ux_blocks_canonical_height ON cc_v2_fixture.blocks USING btree (height) WHERE (status = 'canonical'::text);


--
-- Name: ux_events_model_version_active; Type: INDEX; Schema: cc_v2_fixture; Owner: -
--

CREATE UNIQUE INDEX ux_events_model_version_active ON cc_v2_fixture.events USING btree (model, version) WHERE (status = 'active'::text);


--
-- PostgreSQL database dump complete
--


