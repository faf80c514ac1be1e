//! The archive's append-only log as a Merkle tree, exactly as Certificate Transparency
//! defines it (RFC 6962 §2.1, RFC 9162 §2.1): leaf and node hashes are domain-separated
//! (0x00 / 0x01 prefixes) so that a leaf can never pass for a node. Pure functions.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// SHA-256(0x00 || data): the hash of one log entry.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 || left || right): the hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n ≥ 2): where RFC 6962 splits a tree.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The Merkle tree hash of `leaves` (already leaf-hashed). The empty tree hashes to
/// SHA-256 of nothing.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The right edge of a log's tree: the roots of its perfect subtrees, largest first,
/// one per set bit of the size (so at most 64). Appending a leaf and taking the root
/// cost O(log n) hashes, so sealing stays cheap however long the log grows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// A frontier as stored: the size and its nodes, concatenated. None when the nodes
    /// do not fit the size (a damaged row).
    pub fn from_parts(size: u64, nodes: &[u8]) -> Option<Frontier> {
        if nodes.len() != size.count_ones() as usize * 32 {
            return None;
        }
        let nodes = nodes
            .chunks_exact(32)
            .map(|c| <Hash>::try_from(c).expect("32 bytes"))
            .collect();
        Some(Frontier { size, nodes })
    }

    /// The stored form's nodes, concatenated.
    pub fn node_bytes(&self) -> Vec<u8> {
        self.nodes.concat()
    }

    /// How many leaves it covers.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf (already leaf-hashed).
    pub fn push(&mut self, leaf: Hash) {
        // Each trailing one bit of the size is a subtree of the new leaf's height to
        // merge with, as in binary addition.
        let mut node = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().expect("a node per set bit");
            node = node_hash(&left, &node);
            size >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
    }

    /// The tree hash of the leaves pushed so far: equal to `root` of them.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return root(&[]);
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// Roots of every prefix size in `sizes`, computed in one pass (a log of a million
/// entries would otherwise be hashed once per tree head). Sizes beyond the log give None.
pub fn roots_at(leaves: &[Hash], sizes: &[usize]) -> Vec<Option<Hash>> {
    // A stack of perfect subtrees (height, hash), merged as leaves arrive; the root of
    // any prefix folds the stack from the right.
    let mut wanted: Vec<(usize, usize)> = sizes.iter().copied().enumerate().collect();
    wanted.sort_by_key(|(_, s)| *s);
    let mut out = vec![None; sizes.len()];
    let mut stack: Vec<(u32, Hash)> = Vec::new();
    let mut next = 0;
    let fold = |stack: &[(u32, Hash)]| -> Hash {
        let mut iter = stack.iter().rev();
        let mut acc = iter.next().expect("non-empty").1;
        for (_, h) in iter {
            acc = node_hash(h, &acc);
        }
        acc
    };
    while next < wanted.len() && wanted[next].1 == 0 {
        out[wanted[next].0] = Some(root(&[]));
        next += 1;
    }
    for (i, leaf) in leaves.iter().enumerate() {
        let mut node = (0u32, *leaf);
        while let Some(&(height, hash)) = stack.last() {
            if height != node.0 {
                break;
            }
            stack.pop();
            node = (height + 1, node_hash(&hash, &node.1));
        }
        stack.push(node);
        while next < wanted.len() && wanted[next].1 == i + 1 {
            out[wanted[next].0] = Some(fold(&stack));
            next += 1;
        }
    }
    out
}

/// The audit path of leaf `index` in the tree of `leaves` (RFC 6962 §2.1.1 PATH).
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 || index >= n {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut path = inclusion_proof(&leaves[..k], index);
        path.push(root(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_proof(&leaves[k..], index - k);
        path.push(root(&leaves[..k]));
        path
    }
}

/// Whether `path` proves that `leaf` is entry `index` of the tree of `size` with
/// `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: usize,
    size: usize,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// The proof that the tree of the first `old` leaves is a prefix of the tree of all
/// `leaves` (RFC 6962 §2.1.2 PROOF).
pub fn consistency_proof(leaves: &[Hash], old: usize) -> Vec<Hash> {
    if old == 0 || old >= leaves.len() {
        return Vec::new();
    }
    subproof(old, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if complete {
            Vec::new()
        } else {
            vec![root(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = subproof(m, &leaves[..k], complete);
        proof.push(root(&leaves[k..]));
        proof
    } else {
        let mut proof = subproof(m - k, &leaves[k..], false);
        proof.push(root(&leaves[..k]));
        proof
    }
}

/// Whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of the tree
/// (`new_size`, `new_root`) (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: usize,
    new_size: usize,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        // Every tree extends the empty one.
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && fr == *old_root && sr == *new_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn frontier_root_is_the_tree_root_at_every_size() {
        let all = leaves(300);
        let mut frontier = Frontier::default();
        assert_eq!(frontier.root(), root(&[]));
        for (n, leaf) in all.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.root(), root(&all[..n + 1]), "size {}", n + 1);
            let stored = Frontier::from_parts(frontier.size(), &frontier.node_bytes());
            assert_eq!(stored.as_ref(), Some(&frontier), "size {}", n + 1);
        }
        // Nodes that do not fit the size are refused, not trusted.
        assert_eq!(Frontier::from_parts(3, &[0; 32]), None);
        assert_eq!(Frontier::from_parts(4, &[0; 64]), None);
    }

    /// RFC 6962's reference vectors (the CT test suite): roots of the 8-leaf test tree.
    #[test]
    fn matches_certificate_transparency_vectors() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let hashed: Vec<Hash> = inputs.iter().map(|d| leaf_hash(d)).collect();
        let expect = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for (n, want) in expect.iter().enumerate() {
            assert_eq!(hex::encode(root(&hashed[..n + 1])), *want, "size {}", n + 1);
        }
        // And one audit path from the same suite: leaf 1 of the first five.
        let path: Vec<String> = inclusion_proof(&hashed[..5], 1)
            .iter()
            .map(hex::encode)
            .collect();
        assert_eq!(
            path,
            [
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]
        );
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn roots_of_prefixes_in_one_pass() {
        let all = leaves(37);
        let sizes: Vec<usize> = (0..=40).collect();
        for (size, got) in sizes.iter().zip(roots_at(&all, &sizes)) {
            let want = (*size <= all.len()).then(|| root(&all[..*size]));
            assert_eq!(got, want, "size {size}");
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        for n in 1..=33 {
            let all = leaves(n);
            let r = root(&all);
            for i in 0..n {
                let path = inclusion_proof(&all, i);
                assert!(verify_inclusion(&all[i], i, n, &path, &r), "n {n} i {i}");
                let other = if i + 1 < n { i + 1 } else { 0 };
                if other != i {
                    assert!(!verify_inclusion(&all[other], i, n, &path, &r));
                }
                if let Some(first) = path.first() {
                    let mut bent = path.clone();
                    bent[0] = node_hash(first, first);
                    assert!(!verify_inclusion(&all[i], i, n, &bent, &r));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewrite_does_not() {
        for n in 1..=33 {
            let all = leaves(n);
            let new_root = root(&all);
            for m in 0..=n {
                let proof = consistency_proof(&all, m);
                let old_root = root(&all[..m]);
                assert!(
                    verify_consistency(m, n, &old_root, &new_root, &proof),
                    "m {m} n {n}"
                );
                if m > 0 && m < n {
                    // History rewritten: leaf 0 changed after the old head was signed.
                    let mut forged = all.clone();
                    forged[0] = leaf_hash(b"forged");
                    let forged_proof = consistency_proof(&forged, m);
                    assert!(!verify_consistency(
                        m,
                        n,
                        &old_root,
                        &root(&forged),
                        &forged_proof
                    ));
                }
            }
        }
    }
}
