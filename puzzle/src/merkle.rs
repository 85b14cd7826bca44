//! Binary Merkle trees of the RFC 6962 shape, with domain-separated hashing.
//!
//! `leaf(d) = H("upow/merkle/v1\0" ‖ d)`, `node(l, r) = H("upow/merkle/v1\1" ‖ l ‖ r)`.
//! Levels pair nodes left to right; an unpaired last node is promoted to the
//! next level unchanged (never duplicated, so no two leaf lists share a
//! root). This is exactly RFC 6962's split at the largest power of two.
//!
//! A proof is the list of sibling hashes from the leaf up. Its leaf index and
//! the tree's leaf count are **never** taken from the prover: the verifier
//! supplies them, so a proof cannot be moved to another position.

use alloc::vec::Vec;

use crate::{
    error::{Error, Result},
    hash::{tag, Hash, Hasher},
};

/// Hash of a leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Hasher::new(tag::LEAF);
    hasher.update(data);
    hasher.finish()
}

/// Hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Hasher::new(tag::NODE);
    hasher.update(left).update(right);
    hasher.finish()
}

/// Sibling hashes from a leaf to the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct MerkleProof {
    /// Siblings, lowest level first.
    pub siblings: Vec<Hash>,
}

impl MerkleProof {
    /// The root this proof leads to from `leaf` (a leaf *hash*) at `index` in a
    /// tree of `leaves` leaves.
    pub fn root_from(&self, leaf: Hash, index: u64, leaves: u64) -> Result<Hash> {
        Ok(self.roots_from(leaf, index, leaves)?.root)
    }

    /// The root this proof leads to, and the **prefix root**: the root of the
    /// tree over leaves `0..=index` alone (RFC 6962's `MTH(D[0:index+1])`).
    ///
    /// The proof's *left* siblings are the roots of the perfect subtrees that
    /// cover leaves `0..index` (one per set bit of `index`), so folding only
    /// them onto the leaf gives the prefix root. Once the proof is checked
    /// against a committed root, the prefix root is determined by that root:
    /// this is the consistency proof between the two trees, for free.
    pub fn roots_from(&self, leaf: Hash, index: u64, leaves: u64) -> Result<Roots> {
        if index >= leaves {
            return Err(Error::LeafIndex { index, leaves });
        }
        let expected = proof_length(index, leaves);
        if self.siblings.len() != expected {
            return Err(Error::ProofLength {
                got: self.siblings.len(),
                expected,
            });
        }
        let (mut root, mut prefix) = (leaf, leaf);
        let (mut i, mut n) = (index, leaves);
        let mut siblings = self.siblings.iter();
        while n > 1 {
            if i % 2 == 1 {
                let left = siblings
                    .next()
                    .ok_or(Error::ProofLength { got: 0, expected })?;
                root = node_hash(left, &root);
                prefix = node_hash(left, &prefix);
            } else if i + 1 < n {
                let right = siblings
                    .next()
                    .ok_or(Error::ProofLength { got: 0, expected })?;
                root = node_hash(&root, right);
            }
            i /= 2;
            n = n.div_ceil(2);
        }
        Ok(Roots { root, prefix })
    }

    /// Checks that `leaf` (a leaf hash) sits at `index` of the tree `root`.
    pub fn verify(
        &self,
        what: &'static str,
        root: &Hash,
        leaf: Hash,
        index: u64,
        leaves: u64,
    ) -> Result<()> {
        if self.root_from(leaf, index, leaves)? == *root {
            Ok(())
        } else {
            Err(Error::ProofMismatch { what, index })
        }
    }
}

/// What a proof of leaf `i` leads to: see [`MerkleProof::roots_from`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roots {
    /// Root of the whole tree.
    pub root: Hash,
    /// Root of the tree over leaves `0..=i`.
    pub prefix: Hash,
}

/// Number of siblings in the proof of leaf `index` of `leaves` leaves.
pub fn proof_length(mut index: u64, mut leaves: u64) -> usize {
    let mut len = 0;
    while leaves > 1 {
        if index % 2 == 1 || index + 1 < leaves {
            len += 1;
        }
        index /= 2;
        leaves = leaves.div_ceil(2);
    }
    len
}

/// A whole tree kept in memory, level by level, for generating proofs.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the tree over leaf hashes (at least one).
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Result<Self> {
        if leaves.is_empty() {
            return Err(Error::LeafIndex {
                index: 0,
                leaves: 0,
            });
        }
        let mut levels = alloc::vec![leaves];
        while levels[levels.len() - 1].len() > 1 {
            let below = &levels[levels.len() - 1];
            let above = below
                .chunks(2)
                .map(|pair| {
                    if pair.len() == 2 {
                        node_hash(&pair[0], &pair[1])
                    } else {
                        pair[0]
                    }
                })
                .collect();
            levels.push(above);
        }
        Ok(Self { levels })
    }

    /// Number of leaves.
    pub fn leaves(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels[0].get(index as usize).copied()
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.levels[self.levels.len() - 1][0]
    }

    /// The proof of leaf `index`.
    pub fn proof(&self, index: u64) -> Result<MerkleProof> {
        let leaves = self.leaves();
        if index >= leaves {
            return Err(Error::LeafIndex { index, leaves });
        }
        let mut siblings = Vec::new();
        let mut i = index as usize;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = i ^ 1;
            if sibling < level.len() {
                siblings.push(level[sibling]);
            }
            i /= 2;
        }
        Ok(MerkleProof { siblings })
    }
}

/// An append-only accumulator that gives the root after every append in
/// O(log n): the roots of the perfect subtrees of the binary decomposition of
/// the leaf count. Miners use it to compute a ticket after every step.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    /// (height, root) of perfect subtrees, strictly decreasing heights.
    peaks: Vec<(u32, Hash)>,
    leaves: u64,
}

impl Frontier {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash; returns the root of the leaves so far.
    pub fn push(&mut self, leaf: Hash) -> Hash {
        self.push_node(0, leaf)
    }

    /// Appends the root of a perfect subtree of `2^height` leaves; returns
    /// the root of the leaves so far. The leaves so far must be a multiple
    /// of `2^height` (every peak at least as high), else the result is not
    /// a root of this tree shape: callers push segment roots of one height
    /// before any lower node ([`crate::fraud`]).
    pub fn push_node(&mut self, height: u32, root: Hash) -> Hash {
        let mut node = (height, root);
        while let Some(&(height, root)) = self.peaks.last() {
            if height != node.0 {
                break;
            }
            self.peaks.pop();
            node = (height + 1, node_hash(&root, &node.1));
        }
        self.peaks.push(node);
        self.leaves += 1u64 << height;
        self.fold(node.1)
    }

    /// `node(p_1, node(p_2, … node(p_m, acc)))` over the peaks above the last one.
    fn fold(&self, last: Hash) -> Hash {
        let mut acc = last;
        for (_, peak) in self.peaks.iter().rev().skip(1) {
            acc = node_hash(peak, &acc);
        }
        acc
    }

    /// Leaves appended so far.
    pub fn leaves(&self) -> u64 {
        self.leaves
    }

    /// Root of the leaves so far (`None` while empty).
    pub fn root(&self) -> Option<Hash> {
        self.peaks.last().map(|&(_, last)| self.fold(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::test_support::leaves;

    /// RFC 6962's recursive definition, for comparison.
    fn rfc6962_root(leaves: &[Hash]) -> Hash {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let mut k = 1;
        while k * 2 < leaves.len() {
            k *= 2;
        }
        node_hash(&rfc6962_root(&leaves[..k]), &rfc6962_root(&leaves[k..]))
    }

    #[test]
    fn levels_equal_rfc6962_and_frontier() {
        for n in 1..70 {
            let l = leaves(n);
            let tree = MerkleTree::from_leaf_hashes(l.clone()).unwrap();
            assert_eq!(tree.root(), rfc6962_root(&l), "n={n}");
            let mut f = Frontier::new();
            let mut pushed = None;
            for (i, h) in l.iter().enumerate() {
                pushed = Some(f.push(*h));
                assert_eq!(pushed, f.root(), "n={n} i={i}");
            }
            assert_eq!(pushed, Some(tree.root()), "n={n}");
        }
    }

    #[test]
    fn every_proof_verifies_and_only_at_its_index() {
        for n in 1..40u64 {
            let tree = MerkleTree::from_leaf_hashes(leaves(n as usize)).unwrap();
            for i in 0..n {
                let proof = tree.proof(i).unwrap();
                let leaf = tree.leaf(i).unwrap();
                assert_eq!(proof.siblings.len(), proof_length(i, n));
                proof.verify("t", &tree.root(), leaf, i, n).unwrap();
                for j in 0..n {
                    if j != i {
                        assert!(proof.verify("t", &tree.root(), leaf, j, n).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn prefix_roots_from_proofs_equal_the_trees_of_the_prefixes() {
        for n in 1..70usize {
            let l = leaves(n);
            let tree = MerkleTree::from_leaf_hashes(l.clone()).unwrap();
            let mut frontier = Frontier::new();
            for (i, leaf) in l.iter().enumerate() {
                frontier.push(*leaf);
                let roots = tree
                    .proof(i as u64)
                    .unwrap()
                    .roots_from(*leaf, i as u64, n as u64)
                    .unwrap();
                assert_eq!(roots.root, tree.root(), "n={n} i={i}");
                assert_eq!(Some(roots.prefix), frontier.root(), "n={n} i={i}");
                assert_eq!(roots.prefix, rfc6962_root(&l[..=i]), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn bad_proofs_are_typed_errors() {
        let tree = MerkleTree::from_leaf_hashes(leaves(5)).unwrap();
        let proof = tree.proof(2).unwrap();
        let leaf = tree.leaf(2).unwrap();
        assert_eq!(
            proof.verify("t", &tree.root(), leaf, 5, 5),
            Err(Error::LeafIndex {
                index: 5,
                leaves: 5
            })
        );
        let mut short = proof.clone();
        short.siblings.pop();
        assert!(matches!(
            short.verify("t", &tree.root(), leaf, 2, 5),
            Err(Error::ProofLength { .. })
        ));
        let mut flipped = proof;
        flipped.siblings[0][0] ^= 1;
        assert_eq!(
            flipped.verify("t", &tree.root(), leaf, 2, 5),
            Err(Error::ProofMismatch {
                what: "t",
                index: 2
            })
        );
        assert!(MerkleTree::from_leaf_hashes(Vec::new()).is_err());
    }

    proptest! {
        #[test]
        fn random_proofs_never_panic(
            siblings in proptest::collection::vec(any::<[u8; 32]>(), 0..40),
            index in any::<u64>(),
            leaves in any::<u64>(),
            leaf in any::<[u8; 32]>(),
        ) {
            let proof = MerkleProof { siblings };
            let _ = proof.root_from(leaf, index, leaves);
        }
    }
}
