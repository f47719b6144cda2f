/**
 * Conformance of the zero-dependency audit verifier (src/verify) and of proof planning (src/core/audit/proofs.ts)
 * against published test vectors: transparency-dev/merkle (RFC 6962), cyberphone/json-canonicalization and
 * RFC 8785 Appendix B (JCS), golang.org/x/mod sumdb/note and C2SP (signed notes, checkpoints). The vectors are
 * in test/fixtures; test/fixtures/README.md says where each came from.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  canonicalize,
  CanonicalJsonError,
  emptyRoot,
  formatVerifierKey,
  leafHash,
  MerkleAccumulator,
  nodeHash,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  verifyNote,
  webCryptoSha256,
  type Sha256,
  type VerifierKey,
} from '../../src/verify/index.js';
import { consistencyRanges, decompose, inclusionRanges, type Range } from '../../src/core/audit/proofs.js';

const fixture = <T>(path: string): T => JSON.parse(readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8')) as T;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** Node's synchronous SHA-256, as the verifier's pluggable hash. */
const nodeSha: Sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());

interface InclusionVector { name: string; desc: string; source: string; index: number; size: number; leafHash: string; proof: string[]; root: string; valid: boolean }
interface ConsistencyVector { name: string; desc: string; source: string; size1: number; size2: number; root1: string; root2: string; proof: string[]; valid: boolean }
interface ReferenceTree {
  leaves: string[];
  nodeHashes: string[][];
  roots: string[];
  inclusionProofs: Array<{ index: number; size: number; proof: string[] }>;
  consistencyProofs: Array<{ size1: number; size2: number; proof: string[] }>;
}
interface JcsFixture { files: Array<{ name: string; input: string; expected: string }>; numbers: { vectors: Array<{ ieee: string; expected: string | null }> } }
interface NoteFixture {
  keys: Array<{ key: string; name: string; keyId: string }>;
  badKeys: Array<{ key: string; desc: string }>;
  notes: Array<{ name: string; text: string; trusted: string[]; valid: boolean; body?: string }>;
  checkpoints: Array<{ name: string; body: string; origin: string; size: number; root: string; extensions: string[]; note?: string }>;
  specExamples: Array<{ name: string; text: string; body: string; signatureName: string }>;
}

const inclusionVectors = fixture<InclusionVector[]>('merkle/inclusion-vectors.json');
const consistencyVectors = fixture<ConsistencyVector[]>('merkle/consistency-vectors.json');
const tree = fixture<ReferenceTree>('merkle/rfc6962-roots.json');
const jcs = fixture<JcsFixture>('jcs/rfc8785.json');
const notes = fixture<NoteFixture>('note/signed-notes.json');

/** Every complete node of the reference tree, computed here from the leaves: levels[level][index]. */
async function buildLevels(leaves: Uint8Array[], sha: Sha256): Promise<Uint8Array[][]> {
  const levels: Uint8Array[][] = [await Promise.all(leaves.map((l) => leafHash(l, sha)))];
  while (levels[levels.length - 1]!.length >= 2) {
    const below = levels[levels.length - 1]!;
    const level: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) level.push(await nodeHash(below[i]!, below[i + 1]!, sha));
    levels.push(level);
  }
  return levels;
}

/** The hash of a proof range: decompose()'s nodes folded from the right, H(n1, H(n2, … H(nk-1, nk))). */
async function rangeHash(levels: Uint8Array[][], range: Range, sha: Sha256): Promise<Uint8Array> {
  const nodes = decompose(range).map(({ level, index }) => {
    const h = levels[level]?.[index];
    if (h === undefined) throw new Error(`no node ${level}/${index}`);
    return h;
  });
  let acc = nodes[nodes.length - 1]!;
  for (let i = nodes.length - 2; i >= 0; i--) acc = await nodeHash(nodes[i]!, acc, sha);
  return acc;
}

const leafInputs = tree.leaves.map(hex);

describe('RFC 6962 reference tree (transparency-dev/merkle testonly)', () => {
  for (const [label, sha] of [['WebCrypto (default)', undefined], ['node:crypto', nodeSha]] as const) {
    describe(label, () => {
      it('leaf and node hashes match the published node hashes', async () => {
        const levels = await buildLevels(leafInputs, sha ?? webCryptoSha256);
        expect(levels.map((l) => l.map(toHex))).toEqual(tree.nodeHashes);
        // And through the default argument, when no hash is passed.
        if (sha === undefined) {
          expect(toHex(await leafHash(leafInputs[3]!))).toBe(tree.nodeHashes[0]![3]);
          expect(toHex(await nodeHash(levels[0]![0]!, levels[0]![1]!))).toBe(tree.nodeHashes[1]![0]);
        }
      });

      it('the empty tree root is SHA-256 of nothing', async () => {
        expect(toHex(sha === undefined ? await emptyRoot() : await emptyRoot(sha))).toBe(tree.roots[0]);
        expect(tree.roots[0]).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      });

      it('MerkleAccumulator gives the published root for every size 0..8', async () => {
        const acc = sha === undefined ? new MerkleAccumulator() : new MerkleAccumulator(sha);
        expect(toHex(await acc.root())).toBe(tree.roots[0]);
        for (let n = 1; n <= 8; n++) {
          await acc.append(await leafHash(leafInputs[n - 1]!, sha ?? webCryptoSha256));
          expect(acc.size).toBe(n);
          expect(toHex(await acc.root())).toBe(tree.roots[n]);
        }
      });

      it('MerkleAccumulator.append reports the published complete nodes', async () => {
        const acc = new MerkleAccumulator(sha ?? webCryptoSha256);
        const created: string[] = [];
        for (const leaf of leafInputs) {
          for (const n of await acc.append(await leafHash(leaf, sha ?? webCryptoSha256))) {
            expect(toHex(n.hash)).toBe(tree.nodeHashes[n.level]![n.index]);
            created.push(`${n.level}/${n.index}`);
          }
        }
        expect(created.sort()).toEqual(['1/0', '1/1', '1/2', '1/3', '2/0', '2/1', '3/0']);
      });
    });
  }

  it('the published inclusion proofs verify against the published roots', async () => {
    for (const p of tree.inclusionProofs) {
      const r = await verifyInclusion(
        { index: p.index, size: p.size, leaf: hex(tree.nodeHashes[0]![p.index]!), proof: p.proof.map(hex), root: hex(tree.roots[p.size]!) },
      );
      expect(r, `inclusion ${p.index} in ${p.size}`).toEqual({ ok: true });
    }
  });

  it('the published consistency proofs verify against the published roots', async () => {
    for (const p of tree.consistencyProofs) {
      const r = await verifyConsistency({
        size1: p.size1, size2: p.size2, root1: hex(tree.roots[p.size1]!), root2: hex(tree.roots[p.size2]!), proof: p.proof.map(hex),
      });
      expect(r, `consistency ${p.size1} -> ${p.size2}`).toEqual({ ok: true });
    }
  });
});

describe('transparency-dev/merkle testdata/inclusion', () => {
  const check = async (v: InclusionVector): Promise<void> => {
    const args = { index: v.index, size: v.size, leaf: hex(v.leafHash), proof: v.proof.map(hex), root: hex(v.root) };
    const r = await verifyInclusion(args, nodeSha);
    expect(r.ok, r.reason).toBe(v.valid);
    if (!v.valid) expect(r.reason).toEqual(expect.any(String));
    // The default (WebCrypto) hash gives the same answer.
    expect((await verifyInclusion(args)).ok).toBe(v.valid);
  };
  // Includes TestVerifyInclusionSingleEntry/test:3: an empty leaf hash and root are refused (hashes are 32 bytes).
  it.each(inclusionVectors.map((v) => [`${v.name} (${v.desc})`, v] as const))('%s', async (_, v) => check(v));

  it('has every happy path and a spread of negative cases', () => {
    expect(inclusionVectors.filter((v) => v.valid).length).toBeGreaterThanOrEqual(5);
    expect(new Set(inclusionVectors.map((v) => v.size)).size).toBeGreaterThanOrEqual(5);
  });
});

describe('transparency-dev/merkle testdata/consistency', () => {
  it.each(consistencyVectors.map((v) => [`${v.name} (${v.desc})`, v] as const))('%s', async (_, v) => {
    const args = { size1: v.size1, size2: v.size2, root1: hex(v.root1), root2: hex(v.root2), proof: v.proof.map(hex) };
    const r = await verifyConsistency(args, nodeSha);
    expect(r.ok, r.reason).toBe(v.valid);
    expect((await verifyConsistency(args)).ok).toBe(v.valid);
  });
});

describe('proof planning (src/core/audit/proofs.ts) reproduces the published proofs', () => {
  const levelsP = buildLevels(leafInputs, nodeSha);

  it('inclusion: inclusionRanges + decompose over the reference tree', async () => {
    const levels = await levelsP;
    for (const p of tree.inclusionProofs) {
      const proof = await Promise.all(inclusionRanges(p.index, p.size).map((r) => rangeHash(levels, r, nodeSha)));
      expect(proof.map(toHex), `inclusion ${p.index} in ${p.size}`).toEqual(p.proof);
    }
    // The happy paths of testdata/inclusion are over the same tree.
    for (const v of inclusionVectors.filter((x) => x.valid && x.source.includes('testdata/'))) {
      const proof = await Promise.all(inclusionRanges(v.index, v.size).map((r) => rangeHash(levels, r, nodeSha)));
      expect(proof.map(toHex), v.name).toEqual(v.proof);
    }
  });

  it('consistency: consistencyRanges + decompose over the reference tree', async () => {
    const levels = await levelsP;
    for (const p of tree.consistencyProofs) {
      const proof = await Promise.all(consistencyRanges(p.size1, p.size2).map((r) => rangeHash(levels, r, nodeSha)));
      expect(proof.map(toHex), `consistency ${p.size1} -> ${p.size2}`).toEqual(p.proof);
    }
    for (const v of consistencyVectors.filter((x) => x.valid && x.source.includes('testdata/'))) {
      const proof = await Promise.all(consistencyRanges(v.size1, v.size2).map((r) => rangeHash(levels, r, nodeSha)));
      expect(proof.map(toHex), v.name).toEqual(v.proof);
    }
  });

  it('every generated proof over the reference tree verifies against the published roots', async () => {
    const levels = await levelsP;
    for (let n = 1; n <= 8; n++) {
      for (let m = 0; m < n; m++) {
        const proof = await Promise.all(inclusionRanges(m, n).map((r) => rangeHash(levels, r, nodeSha)));
        const r = await verifyInclusion({ index: m, size: n, leaf: hex(tree.nodeHashes[0]![m]!), proof, root: hex(tree.roots[n]!) }, nodeSha);
        expect(r, `inclusion ${m} in ${n}`).toEqual({ ok: true });
      }
      for (let m = 0; m <= n; m++) {
        const proof = await Promise.all(consistencyRanges(m, n).map((r) => rangeHash(levels, r, nodeSha)));
        const r = await verifyConsistency({ size1: m, size2: n, root1: hex(tree.roots[m]!), root2: hex(tree.roots[n]!), proof }, nodeSha);
        expect(r, `consistency ${m} -> ${n}`).toEqual({ ok: true });
      }
    }
  });
});

describe('RFC 8785 JSON canonicalization', () => {
  it.each(jcs.files.map((f) => [f.name, f] as const))('cyberphone testdata %s', (_, f) => {
    expect(canonicalize(JSON.parse(f.input))).toBe(f.expected);
    // Canonical output is a fixed point.
    expect(canonicalize(JSON.parse(f.expected))).toBe(f.expected);
  });

  const double = (bits: string): number => {
    const view = new DataView(new ArrayBuffer(8));
    view.setBigUint64(0, BigInt(`0x${bits}`));
    return view.getFloat64(0);
  };

  it.each(jcs.numbers.vectors.map((v) => [v.ieee, v.expected] as const))('number 0x%s -> %s', (ieee, expected) => {
    if (expected === null) {
      expect(() => canonicalize(double(ieee))).toThrow(CanonicalJsonError);
      expect(() => canonicalize({ n: [double(ieee)] })).toThrow(CanonicalJsonError);
    } else {
      expect(canonicalize(double(ieee))).toBe(expected);
      expect(canonicalize([double(ieee)])).toBe(`[${expected}]`);
    }
  });
});

describe('C2SP signed notes (golang.org/x/mod sumdb/note, transparency-dev/formats)', () => {
  const keysP = Promise.all(notes.keys.map((k) => parseVerifierKey(k.key)));
  const keyNamed = async (name: string): Promise<VerifierKey> => {
    const k = (await keysP).find((x) => x.name === name);
    if (k === undefined) throw new Error(`no key ${name}`);
    return k;
  };

  it.each(notes.keys.map((k) => [k.key, k] as const))('parseVerifierKey %s', async (_, k) => {
    for (const parsed of [await parseVerifierKey(k.key), await parseVerifierKey(k.key, nodeSha)]) {
      expect(parsed.name).toBe(k.name);
      expect(parsed.keyId).toBe(Number.parseInt(k.keyId, 16));
      expect(parsed.publicKey.length).toBe(32);
      expect(formatVerifierKey(parsed)).toBe(k.key);
    }
  });

  it.each(notes.badKeys.map((k) => [k.desc, k.key] as const))('rejects a bad verifier key: %s', async (_, key) => {
    await expect(parseVerifierKey(key)).rejects.toThrow();
  });

  it('rejects every substring and every single-byte increment of the published key (as TestNewVerifier)', async () => {
    const key = notes.keys[0]!.key;
    const bad: string[] = [];
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) if (i !== 0 || j !== key.length) bad.push(key.slice(i, j));
    }
    for (let i = 0; i < key.length; i++) bad.push(key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1));
    const accepted: string[] = [];
    for (const k of bad) {
      // (parseVerifierKey trims surrounding whitespace, which none of these has.)
      if (await parseVerifierKey(k, nodeSha).then(() => true, () => false)) accepted.push(k);
    }
    expect(accepted).toEqual([]);
  });

  it.each(notes.notes.map((n) => [n.name, n] as const))('verifyNote: %s', async (_, n) => {
    const trusted = await Promise.all(n.trusted.map(keyNamed));
    const r = await verifyNote(n.text, trusted);
    expect(r.ok, r.reason).toBe(n.valid);
    if (n.valid) {
      expect(r.body).toBe(n.body);
      expect(r.verifiedBy?.length).toBeGreaterThan(0);
    } else {
      expect(r.reason).toEqual(expect.any(String));
    }
  });

  it('rejects the published notes when no key is trusted', async () => {
    for (const n of notes.notes.filter((x) => x.valid)) {
      const r = await verifyNote(n.text, []);
      expect(r.ok, n.name).toBe(false);
    }
  });

  it('rejects a signature by a trusted name with a different key (same name and id, other public key)', async () => {
    const peter = await keyNamed('PeterNeumann');
    const enoch = await keyNamed('EnochRoot');
    const impostor: VerifierKey = { ...peter, publicKey: enoch.publicKey };
    const r = await verifyNote(notes.notes[0]!.text, [impostor]);
    expect(r.ok).toBe(false);
  });

  it.each(notes.checkpoints.map((c) => [c.name, c] as const))('parseCheckpoint: %s', async (_, c) => {
    const cp = parseCheckpoint(c.body);
    expect(cp.origin).toBe(c.origin);
    expect(cp.size).toBe(c.size);
    expect(cp.root).toEqual(b64(c.root));
    expect(cp.extensions).toEqual(c.extensions);
    if (c.note !== undefined) {
      // The spec's example note parses, and its body is the checkpoint; its key is not published, so it cannot verify.
      expect(parseNote(c.note).body).toBe(c.body);
      expect((await verifyNote(c.note, await keysP)).ok).toBe(false);
    }
  });

  it('a verified sum.golang.org checkpoint parses from the verified body', async () => {
    const n = notes.notes.find((x) => x.name === 'sum.golang.org checkpoint')!;
    const r = await verifyNote(n.text, [await keyNamed('sum.golang.org')]);
    expect(r.ok).toBe(true);
    const cp = parseCheckpoint(r.body!);
    expect(cp).toMatchObject({ origin: 'go.sum database tree', size: 6476701, extensions: [] });
    expect(toHex(cp.root)).toBe(toHex(b64('mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=')));
  });

  // c2sp.org/signed-note: "The note text MAY contain empty lines; the text is separated from the signatures by the
  // last empty line in the note."
  it.each(notes.specExamples.map((e) => [e.name, e] as const))('parseNote %s', (_, e) => {
    const parsed = parseNote(e.text);
    expect(parsed.body).toBe(e.body);
    expect(parsed.signatures.map((s) => s.name)).toEqual([e.signatureName]);
  });
});
