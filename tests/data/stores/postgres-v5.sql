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
-- Name: cc_v5_fixture; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA cc_v5_fixture;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: blocks; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.blocks (
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
-- Name: blocks_id_seq; Type: SEQUENCE; Schema: cc_v5_fixture; Owner: -
--

CREATE SEQUENCE cc_v5_fixture.blocks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: blocks_id_seq; Type: SEQUENCE OWNED BY; Schema: cc_v5_fixture; Owner: -
--

ALTER SEQUENCE cc_v5_fixture.blocks_id_seq OWNED BY cc_v5_fixture.blocks.id;


--
-- Name: checkpoints; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.checkpoints (
    subscriber text NOT NULL,
    "position" bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Name: collection_blocks; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.collection_blocks (
    seq bigint NOT NULL,
    block_height bigint NOT NULL,
    status text NOT NULL,
    CONSTRAINT ck_collection_blocks_status CHECK ((status = ANY (ARRAY['canonical'::text, 'orphaned'::text])))
);


--
-- Name: collection_recent; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.collection_recent (
    seq bigint NOT NULL,
    model text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL COLLATE pg_catalog."C",
    value json
);


--
-- Name: collection_values; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.collection_values (
    model text NOT NULL,
    collection text NOT NULL,
    key text NOT NULL COLLATE pg_catalog."C",
    value json NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.events (
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
-- Name: mempool_events; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.mempool_events (
    "position" bigint NOT NULL,
    model text NOT NULL,
    event_type text NOT NULL,
    event_version integer NOT NULL,
    payload json NOT NULL,
    txid text,
    block_height bigint,
    block_hash text,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: mempool_failures; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.mempool_failures (
    model text NOT NULL,
    error text NOT NULL,
    failed_at timestamp with time zone NOT NULL
);


--
-- Name: meta; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.meta (
    key text NOT NULL,
    value text NOT NULL
);


--
-- Name: models; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.models (
    name text NOT NULL,
    version text,
    registered_at timestamp with time zone NOT NULL
);


--
-- Name: reorgs; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.reorgs (
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
-- Name: reorgs_id_seq; Type: SEQUENCE; Schema: cc_v5_fixture; Owner: -
--

CREATE SEQUENCE cc_v5_fixture.reorgs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: reorgs_id_seq; Type: SEQUENCE OWNED BY; Schema: cc_v5_fixture; Owner: -
--

ALTER SEQUENCE cc_v5_fixture.reorgs_id_seq OWNED BY cc_v5_fixture.reorgs.id;


--
-- Name: snapshots; Type: TABLE; Schema: cc_v5_fixture; Owner: -
--

CREATE TABLE cc_v5_fixture.snapshots (
    model text NOT NULL,
    block_height bigint NOT NULL,
    block_hash text NOT NULL,
    state json NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: blocks id; Type: DEFAULT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.blocks ALTER COLUMN id SET DEFAULT nextval('cc_v5_fixture.blocks_id_seq'::regclass);


--
-- Name: reorgs id; Type: DEFAULT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.reorgs ALTER COLUMN id SET DEFAULT nextval('cc_v5_fixture.reorgs_id_seq'::regclass);


--
-- Data for Name: blocks; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.blocks VALUES (1, 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', '0ed32d3352f0cddd88b03a266c387e1a4683d5356ce381463b4b42cf9ccadfaf', 1600000001, 'canonical', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.blocks VALUES (2, 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 1600000002, 'canonical', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.blocks VALUES (3, 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 1600000003, 'canonical', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.blocks VALUES (4, 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 1600000004, 'canonical', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.blocks VALUES (5, 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 1600000005, 'canonical', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.blocks VALUES (6, 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 1600000006, 'canonical', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.blocks VALUES (7, 7, '36e6e907db0e2729d474170aec9c47502b4716b654728fcdb7bc0bce33ecafdc', '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 1600000007, 'orphaned', 1, '2026-12-03 16:34:17.598819+00');
INSERT INTO cc_v5_fixture.blocks VALUES (8, 8, '0f4feaaabed97ff86fbe1ab6140dc660b105e3e8c54c83c258ac918c6495a623', '36e6e907db0e2729d474170aec9c47502b4716b654728fcdb7bc0bce33ecafdc', 1600000008, 'orphaned', 1, '2026-12-03 16:34:17.605153+00');
INSERT INTO cc_v5_fixture.blocks VALUES (9, 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 1600000007, 'canonical', NULL, '2026-12-03 16:34:17.619312+00');
INSERT INTO cc_v5_fixture.blocks VALUES (10, 8, 'ecb9bcdf0403b22c86e1ff05d459b390e7c949d2a0bd875ec177813af12a9157', 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 1600000008, 'canonical', NULL, '2026-12-03 16:34:17.623929+00');
INSERT INTO cc_v5_fixture.blocks VALUES (11, 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', 'ecb9bcdf0403b22c86e1ff05d459b390e7c949d2a0bd875ec177813af12a9157', 1600000009, 'canonical', NULL, '2026-12-03 16:34:17.628559+00');
INSERT INTO cc_v5_fixture.blocks VALUES (12, 10, '0c69e8b804ffc06ee26fb68e7654215118dc70f5a083c2d8ad425c77578ba164', '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', 1600000010, 'canonical', NULL, '2026-12-03 16:34:17.635217+00');


--
-- Data for Name: checkpoints; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.checkpoints VALUES ('ws', 9, '2026-12-03 16:34:17.642603+00');


--
-- Data for Name: collection_blocks; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.collection_blocks VALUES (5, 8, 'orphaned');
INSERT INTO cc_v5_fixture.collection_blocks VALUES (7, 8, 'canonical');
INSERT INTO cc_v5_fixture.collection_blocks VALUES (8, 9, 'canonical');
INSERT INTO cc_v5_fixture.collection_blocks VALUES (9, 10, 'canonical');


--
-- Data for Name: collection_recent; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.collection_recent VALUES (5, 'balances', 'by_addr', 'bcrt1q₿8', '8000');
INSERT INTO cc_v5_fixture.collection_recent VALUES (5, 'deposits', 'seen', 'k8', '{"z": 8, "a": ["0f4fea"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (5, 'deposits', 'seen', 'shared', '{"z": 8, "a": ["0f4fea"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (7, 'balances', 'by_addr', 'bcrt1q₿8', '8000');
INSERT INTO cc_v5_fixture.collection_recent VALUES (7, 'deposits', 'seen', 'k8', '{"z": 8, "a": ["ecb9bc"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (7, 'deposits', 'seen', 'shared', '{"z": 8, "a": ["ecb9bc"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (8, 'balances', 'by_addr', 'bcrt1q₿9', '9000');
INSERT INTO cc_v5_fixture.collection_recent VALUES (8, 'deposits', 'seen', 'k8', NULL);
INSERT INTO cc_v5_fixture.collection_recent VALUES (8, 'deposits', 'seen', 'k9', '{"z": 9, "a": ["3bfcab"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (8, 'deposits', 'seen', 'shared', NULL);
INSERT INTO cc_v5_fixture.collection_recent VALUES (9, 'balances', 'by_addr', 'bcrt1q₿10', '10000');
INSERT INTO cc_v5_fixture.collection_recent VALUES (9, 'deposits', 'seen', 'k10', '{"z": 10, "a": ["0c69e8"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_recent VALUES (9, 'deposits', 'seen', 'shared', '{"z": 10, "a": ["0c69e8"], "\u00fc": {"y": 1, "b": 2}}');


--
-- Data for Name: collection_values; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿1', '1000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿2', '2000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿3', '3000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('deposits', 'seen', 'k1', '{"z": 1, "a": ["2b2c40"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_values VALUES ('deposits', 'seen', 'k3', '{"z": 3, "a": ["579d74"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿4', '4000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿5', '5000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('deposits', 'seen', 'k5', '{"z": 5, "a": ["d9beb4"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿6', '6000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('balances', 'by_addr', 'bcrt1q₿7', '7000');
INSERT INTO cc_v5_fixture.collection_values VALUES ('deposits', 'seen', 'k7', '{"z": 7, "a": ["e74bbf"], "\u00fc": {"y": 1, "b": 2}}');
INSERT INTO cc_v5_fixture.collection_values VALUES ('deposits', 'seen', 'shared', '{"z": 7, "a": ["e74bbf"], "\u00fc": {"y": 1, "b": 2}}');


--
-- Data for Name: events; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.events VALUES (1, 'deposits', 1, 'Seen', 1, '{"zeta": 1, "a": 0, "address": "bcrt1q2b2c40a670", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (2, 'balances', 1, 'Seen', 1, '{"zeta": 1, "a": 1, "address": "bcrt1q2b2c40a670", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 1, '2b2c40a6706d9e5f320d553628313833e3668d8b0c8f5b0a25a2ca7d926df6d4', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (3, 'deposits', 2, 'Seen', 1, '{"zeta": 2, "a": 0, "address": "bcrt1qd860d1415d", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (4, 'balances', 2, 'Seen', 1, '{"zeta": 2, "a": 1, "address": "bcrt1qd860d1415d", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 2, 'd860d1415d6eb004973f071102f63a91fa88e862d47e36fc89c9e02ea0956d4e', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (5, 'deposits', 3, 'Seen', 1, '{"zeta": 3, "a": 0, "address": "bcrt1q579d74b93f", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (6, 'balances', 3, 'Seen', 1, '{"zeta": 3, "a": 1, "address": "bcrt1q579d74b93f", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 3, '579d74b93fe3eaa13a678bce79050a96c44c30ba32da6e13c53f7a119cfe4df8', 'active', NULL, '2026-12-03 16:34:17.555993+00');
INSERT INTO cc_v5_fixture.events VALUES (7, 'deposits', 4, 'Seen', 1, '{"zeta": 4, "a": 0, "address": "bcrt1qa816396c1a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (8, 'balances', 4, 'Seen', 1, '{"zeta": 4, "a": 1, "address": "bcrt1qa816396c1a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 4, 'a816396c1aa321b6227f359240c57f39a0e83680c0dc068a9fecfada7b33bd9d', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (9, 'deposits', 5, 'Seen', 1, '{"zeta": 5, "a": 0, "address": "bcrt1qd9beb43890", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (10, 'balances', 5, 'Seen', 1, '{"zeta": 5, "a": 1, "address": "bcrt1qd9beb43890", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 5, 'd9beb4389048772969329e60879a0bb4d5d44f08af3f8045aa0bd07fbed12a52', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (11, 'deposits', 6, 'Seen', 1, '{"zeta": 6, "a": 0, "address": "bcrt1q7903c474b1", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (12, 'balances', 6, 'Seen', 1, '{"zeta": 6, "a": 1, "address": "bcrt1q7903c474b1", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 'active', NULL, '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.events VALUES (13, 'deposits', 7, 'Seen', 1, '{"zeta": 7, "a": 0, "address": "bcrt1q36e6e907db", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, '36e6e907db0e2729d474170aec9c47502b4716b654728fcdb7bc0bce33ecafdc', 'rolled_back', 1, '2026-12-03 16:34:17.598819+00');
INSERT INTO cc_v5_fixture.events VALUES (14, 'balances', 7, 'Seen', 1, '{"zeta": 7, "a": 1, "address": "bcrt1q36e6e907db", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, '36e6e907db0e2729d474170aec9c47502b4716b654728fcdb7bc0bce33ecafdc', 'rolled_back', 1, '2026-12-03 16:34:17.598819+00');
INSERT INTO cc_v5_fixture.events VALUES (15, 'deposits', 8, 'Seen', 1, '{"zeta": 8, "a": 0, "address": "bcrt1q0f4feaaabe", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 8, '0f4feaaabed97ff86fbe1ab6140dc660b105e3e8c54c83c258ac918c6495a623', 'rolled_back', 1, '2026-12-03 16:34:17.605153+00');
INSERT INTO cc_v5_fixture.events VALUES (16, 'balances', 8, 'Seen', 1, '{"zeta": 8, "a": 1, "address": "bcrt1q0f4feaaabe", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 8, '0f4feaaabed97ff86fbe1ab6140dc660b105e3e8c54c83c258ac918c6495a623', 'rolled_back', 1, '2026-12-03 16:34:17.605153+00');
INSERT INTO cc_v5_fixture.events VALUES (17, 'deposits', 7, 'Seen', 1, '{"zeta": 7, "a": 0, "address": "bcrt1qe74bbf6a8a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 'active', NULL, '2026-12-03 16:34:17.619312+00');
INSERT INTO cc_v5_fixture.events VALUES (18, 'balances', 7, 'Seen', 1, '{"zeta": 7, "a": 1, "address": "bcrt1qe74bbf6a8a", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 7, 'e74bbf6a8a43c5a27ab62a12fc8350040d6662dc077e6eff1ddbca3499327803', 'active', NULL, '2026-12-03 16:34:17.619312+00');
INSERT INTO cc_v5_fixture.events VALUES (19, 'deposits', 8, 'Seen', 1, '{"zeta": 8, "a": 0, "address": "bcrt1qecb9bcdf04", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 8, 'ecb9bcdf0403b22c86e1ff05d459b390e7c949d2a0bd875ec177813af12a9157', 'active', NULL, '2026-12-03 16:34:17.623929+00');
INSERT INTO cc_v5_fixture.events VALUES (20, 'balances', 8, 'Seen', 1, '{"zeta": 8, "a": 1, "address": "bcrt1qecb9bcdf04", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 8, 'ecb9bcdf0403b22c86e1ff05d459b390e7c949d2a0bd875ec177813af12a9157', 'active', NULL, '2026-12-03 16:34:17.623929+00');
INSERT INTO cc_v5_fixture.events VALUES (21, 'deposits', 9, 'Seen', 1, '{"zeta": 9, "a": 0, "address": "bcrt1q3bfcabd295", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', 'active', NULL, '2026-12-03 16:34:17.628559+00');
INSERT INTO cc_v5_fixture.events VALUES (22, 'balances', 9, 'Seen', 1, '{"zeta": 9, "a": 1, "address": "bcrt1q3bfcabd295", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', 'active', NULL, '2026-12-03 16:34:17.628559+00');
INSERT INTO cc_v5_fixture.events VALUES (23, 'deposits', 10, 'Seen', 1, '{"zeta": 10, "a": 0, "address": "bcrt1q0c69e8b804", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 10, '0c69e8b804ffc06ee26fb68e7654215118dc70f5a083c2d8ad425c77578ba164', 'active', NULL, '2026-12-03 16:34:17.635217+00');
INSERT INTO cc_v5_fixture.events VALUES (24, 'balances', 10, 'Seen', 1, '{"zeta": 10, "a": 1, "address": "bcrt1q0c69e8b804", "nested": {"yy": [3, 1, 2], "b": {"z": null, "aa": true}}, "m": "\u20bf\u00fc"}', 10, '0c69e8b804ffc06ee26fb68e7654215118dc70f5a083c2d8ad425c77578ba164', 'active', NULL, '2026-12-03 16:34:17.635217+00');


--
-- Data for Name: mempool_events; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.mempool_events VALUES (1, 'pending', 'Seen', 1, '{"z": "aa", "a": 1}', 'aa', NULL, NULL, '2026-12-03 16:34:17.594315+00');
INSERT INTO cc_v5_fixture.mempool_events VALUES (2, 'pending', 'Seen', 1, '{"z": "bb", "a": 2}', 'bb', NULL, NULL, '2026-12-03 16:34:17.594315+00');
INSERT INTO cc_v5_fixture.mempool_events VALUES (3, 'pending', 'Confirmed', 1, '{"z": "aa", "a": 1}', 'aa', 8, 'ecb9bcdf0403b22c86e1ff05d459b390e7c949d2a0bd875ec177813af12a9157', '2026-12-03 16:34:17.623929+00');


--
-- Data for Name: mempool_failures; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.mempool_failures VALUES ('pending', 'KeyError: ''x''', '2026-12-03 16:34:17.640384+00');


--
-- Data for Name: meta; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.meta VALUES ('schema_version', '5');
INSERT INTO cc_v5_fixture.meta VALUES ('network', 'regtest');
INSERT INTO cc_v5_fixture.meta VALUES ('genesis_hash', '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206');
INSERT INTO cc_v5_fixture.meta VALUES ('created_at', '2026-12-03T16:34:17.502223+00:00');
INSERT INTO cc_v5_fixture.meta VALUES ('collections_settled_through', '7');


--
-- Data for Name: models; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.models VALUES ('balances', NULL, '2026-12-03 16:34:17.551373+00');
INSERT INTO cc_v5_fixture.models VALUES ('quiet', NULL, '2026-12-03 16:34:17.551373+00');
INSERT INTO cc_v5_fixture.models VALUES ('deposits', '2', '2026-12-03 16:34:17.551373+00');


--
-- Data for Name: reorgs; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.reorgs VALUES (1, 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', 8, '0f4feaaabed97ff86fbe1ab6140dc660b105e3e8c54c83c258ac918c6495a623', '0c69e8b804ffc06ee26fb68e7654215118dc70f5a083c2d8ad425c77578ba164', 2, 4, 13, 16, '2026-12-03 16:34:17.611328+00');


--
-- Data for Name: snapshots; Type: TABLE DATA; Schema: cc_v5_fixture; Owner: -
--

INSERT INTO cc_v5_fixture.snapshots VALUES ('deposits', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', '{"tip": 6, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "deposits"}', '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.snapshots VALUES ('balances', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', '{"tip": 6, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "balances"}', '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.snapshots VALUES ('quiet', 6, '7903c474b1ca5fd37b398d9a44151518ba0cba28de36d7c05fa6292881902362', '{"tip": 6, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "quiet"}', '2026-12-03 16:34:17.567881+00');
INSERT INTO cc_v5_fixture.snapshots VALUES ('deposits', 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', '{"tip": 9, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "deposits"}', '2026-12-03 16:34:17.628559+00');
INSERT INTO cc_v5_fixture.snapshots VALUES ('balances', 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', '{"tip": 9, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "balances"}', '2026-12-03 16:34:17.628559+00');
INSERT INTO cc_v5_fixture.snapshots VALUES ('quiet', 9, '3bfcabd29555646bdc59f0f4f75144cdb56f4043e8bc8aba241720297fa93a58', '{"tip": 9, "by_addr": {"zz": 2, "aa": 1, "m": {"k2": 0, "k1": 1}}, "model": "quiet"}', '2026-12-03 16:34:17.628559+00');


--
-- Name: blocks_id_seq; Type: SEQUENCE SET; Schema: cc_v5_fixture; Owner: -
--

SELECT pg_catalog.setval('cc_v5_fixture.blocks_id_seq', 12, true);


--
-- Name: reorgs_id_seq; Type: SEQUENCE SET; Schema: cc_v5_fixture; Owner: -
--

SELECT pg_catalog.setval('cc_v5_fixture.reorgs_id_seq', 1, true);


--
-- Name: blocks blocks_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.blocks
    ADD CONSTRAINT blocks_pkey PRIMARY KEY (id);


--
-- Name: checkpoints checkpoints_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.checkpoints
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (subscriber);


--
-- Name: collection_blocks collection_blocks_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.collection_blocks
    ADD CONSTRAINT collection_blocks_pkey PRIMARY KEY (seq);


--
-- Name: collection_recent collection_recent_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.collection_recent
    ADD CONSTRAINT collection_recent_pkey PRIMARY KEY (seq, model, collection, key);


--
-- Name: collection_values collection_values_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.collection_values
    ADD CONSTRAINT collection_values_pkey PRIMARY KEY (model, collection, key);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.events
    ADD CONSTRAINT events_pkey PRIMARY KEY ("position");


--
-- Name: mempool_events mempool_events_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.mempool_events
    ADD CONSTRAINT mempool_events_pkey PRIMARY KEY ("position");


--
-- Name: mempool_failures mempool_failures_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.mempool_failures
    ADD CONSTRAINT mempool_failures_pkey PRIMARY KEY (model);


--
-- Name: meta meta_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (key);


--
-- Name: models models_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.models
    ADD CONSTRAINT models_pkey PRIMARY KEY (name);


--
-- Name: reorgs reorgs_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.reorgs
    ADD CONSTRAINT reorgs_pkey PRIMARY KEY (id);


--
-- Name: snapshots snapshots_pkey; Type: CONSTRAINT; Schema: cc_v5_fixture; Owner: -
--

ALTER TABLE ONLY cc_v5_fixture.snapshots
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (model, block_height);


--
-- Name: ix_blocks_hash; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_blocks_hash ON cc_v5_fixture.blocks USING btree (hash);


--
-- Name: ix_blocks_status_height; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_blocks_status_height ON cc_v5_fixture.blocks USING btree (status, height);


--
-- Name: ix_collection_recent_key; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_collection_recent_key ON cc_v5_fixture.collection_recent USING btree (model, collection, key, seq);


--
-- Name: ix_events_active_block_height; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_events_active_block_height ON cc_v5_fixture.events USING btree (block_height, "position") WHERE (status = 'active'::text);


--
-- Name: ix_events_active_model_position; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_events_active_model_position ON cc_v5_fixture.events USING btree (model, "position") WHERE (status = 'active'::text);


--
-- Name: ix_mempool_events_created_at; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_mempool_events_created_at ON cc_v5_fixture.mempool_events USING btree (created_at);


--
-- Name: ix_mempool_events_model_position; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_mempool_events_model_position ON cc_v5_fixture.mempool_events USING btree (model, "position");


--
-- Name: ix_mempool_events_txid; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_mempool_events_txid ON cc_v5_fixture.mempool_events USING btree (txid);


--
-- Name: ix_snapshots_block_height; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE INDEX ix_snapshots_block_height ON cc_v5_fixture.snapshots USING btree (block_height);


--
-- Name: ux_blocks_canonical_height; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE UNIQUE INDEX ux_blocks_canonical_height ON cc_v5_fixture.blocks USING btree (height) WHERE (status = 'canonical'::text);


--
-- Name: ux_events_model_version_active; Type: INDEX; Schema: cc_v5_fixture; Owner: -
--

CREATE UNIQUE INDEX ux_events_model_version_active ON cc_v5_fixture.events USING btree (model, version) WHERE (status = 'active'::text);


--
-- PostgreSQL database dump complete
--


