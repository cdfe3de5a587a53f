//! Functions as numbered nodes, for reports over many samples: each distinct function name gets
//! an id once, and each location's frames become `(node, inlined)` pairs once, so that walking
//! a sample's stack costs no hashing of strings.

use rustc_hash::FxHashMap;

use crate::codec::ProfileView;
use crate::proto::Sample;
use crate::top::TopSort;

/// A frame as a node id and whether the call into it was inlined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeFrame {
    pub(crate) node: u32,
    pub(crate) inlined: bool,
}

/// The function names of a profile, numbered, and each location's frames as nodes.
#[derive(Debug)]
pub(crate) struct Nodes<'a> {
    /// Function name by node id (`""` for unsymbolized locations).
    pub(crate) names: Vec<&'a str>,
    /// Per location (in `profile.location` order): its frames, leaf first.
    locations: Vec<Box<[NodeFrame]>>,
}

impl<'a> Nodes<'a> {
    pub(crate) fn new(view: &ProfileView<'a>) -> Self {
        let mut ids: FxHashMap<&'a str, u32> = FxHashMap::default();
        let mut names = Vec::new();
        let locations = view
            .profile()
            .location
            .iter()
            .map(|l| {
                view.location_frames(l.id)
                    .iter()
                    .map(|f| {
                        let node = *ids.entry(f.function).or_insert_with(|| {
                            names.push(f.function);
                            names.len() as u32 - 1
                        });
                        NodeFrame {
                            node,
                            inlined: f.inlined,
                        }
                    })
                    .collect()
            })
            .collect();
        Nodes { names, locations }
    }

    /// The frames of `sample` as nodes, leaf first.
    pub(crate) fn stack<'s>(
        &'s self,
        view: &'s ProfileView<'a>,
        sample: &'s Sample,
    ) -> impl Iterator<Item = NodeFrame> + 's {
        sample.location_id.iter().flat_map(move |&id| {
            view.position(id)
                .map_or(&[][..], |i| &self.locations[i])
                .iter()
                .copied()
        })
    }

    /// The name pprof prints for node `n`.
    pub(crate) fn display(&self, n: u32) -> &'a str {
        display_name(self.names[n as usize])
    }
}

/// What pprof prints for a function without a name.
pub(crate) fn display_name(name: &str) -> &str {
    if name.is_empty() { "<unknown>" } else { name }
}

/// pprof's default: edges lighter than this fraction of the total are trimmed (they then no
/// longer count for the `(inline)` labels).
pub(crate) const EDGE_FRACTION: f64 = 0.001;

/// Functions and the calls between them, pprof-style, for one selection of nodes.
pub(crate) struct Graph {
    /// Whether the node appears in the graph (some kept frame of some sample).
    pub(crate) present: Vec<bool>,
    pub(crate) flat: Vec<i64>,
    pub(crate) cum: Vec<i64>,
    /// (caller, callee) → (weight, every call inlined).
    pub(crate) edges: FxHashMap<(u32, u32), (i64, bool)>,
}

impl Graph {
    pub(crate) fn nodes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.present.len() as u32).filter(|&n| self.present[n as usize])
    }

    /// `(inline)` when every remaining call into `node` was inlined, `(partial-inline)` when
    /// some were.
    pub(crate) fn inline_label(&self, node: u32, edge_cutoff: i64) -> Option<&'static str> {
        let (mut inline, mut plain) = (false, false);
        for (&(_, callee), &(weight, inlined)) in &self.edges {
            if callee == node && weight.saturating_abs() >= edge_cutoff {
                if inlined {
                    inline = true;
                } else {
                    plain = true;
                }
            }
        }
        match (inline, plain) {
            (true, false) => Some("(inline)"),
            (true, true) => Some("(partial-inline)"),
            _ => None,
        }
    }
}

/// Aggregates every sample's value `index` over the functions on its stack; with `keep`, only
/// the kept functions count (the caller of a kept frame is the previous kept frame). The calls
/// between functions (for `(inline)` labels and `peek`) cost most of the time; they are
/// collected only `with_edges`.
pub(crate) fn build_graph(
    view: &ProfileView<'_>,
    nodes: &Nodes<'_>,
    index: usize,
    keep: Option<&[bool]>,
    with_edges: bool,
) -> Graph {
    let n = nodes.names.len();
    let mut g = Graph {
        present: vec![false; n],
        flat: vec![0; n],
        cum: vec![0; n],
        edges: FxHashMap::default(),
    };
    // The last sample (numbered from 1) that counted each node and edge, so that recursion
    // counts a sample once per node and edge.
    let mut node_seen = vec![0u32; n];
    // (weight, every call inlined, last sample counted).
    let mut edges: FxHashMap<(u32, u32), (i64, bool, u32)> = FxHashMap::default();
    let is_kept = |node: u32| keep.is_none_or(|k| k[node as usize]);
    let mut stack = Vec::new();
    for (i, s) in view.profile().sample.iter().enumerate() {
        let stamp = i as u32 + 1;
        let value = s.value.get(index).copied().unwrap_or(0);
        // As pprof: a sample without value adds nothing, not even its nodes.
        if value == 0 {
            continue;
        }
        stack.clear();
        stack.extend(nodes.stack(view, s));
        // From the root to the leaf.
        let mut parent: Option<u32> = None;
        for f in stack.iter().rev().filter(|f| is_kept(f.node)) {
            let node = f.node as usize;
            g.present[node] = true;
            if node_seen[node] != stamp {
                node_seen[node] = stamp;
                g.cum[node] = g.cum[node].saturating_add(value);
            }
            if with_edges
                && let Some(p) = parent
                && p != f.node
            {
                let edge = edges.entry((p, f.node)).or_insert((0, true, 0));
                if edge.2 != stamp {
                    edge.2 = stamp;
                    edge.0 = edge.0.saturating_add(value);
                    edge.1 &= f.inlined;
                }
            }
            parent = Some(f.node);
        }
        // pprof gives the flat value to the leaf only if the leaf itself is kept; a dropped
        // leaf's value counts in its callers' cum but in no one's flat.
        if let Some(leaf) = stack.first().filter(|f| is_kept(f.node)) {
            let flat = &mut g.flat[leaf.node as usize];
            *flat = flat.saturating_add(value);
        }
    }
    g.edges = edges
        .into_iter()
        .map(|(k, (w, inline, _))| (k, (w, inline)))
        .collect();
    // pprof drops nodes whose values cancel out (diffs, negative samples).
    for n in 0..n {
        if g.flat[n] == 0 && g.cum[n] == 0 {
            g.present[n] = false;
        }
    }
    g
}

/// Orders functions as pprof does: by |flat| (or |cum|), then name, then the other value.
pub(crate) fn sort_nodes(ranked: &mut [u32], g: &Graph, nodes: &Nodes<'_>, sort: TopSort) {
    ranked.sort_by(|&a, &b| {
        let (fa, fb) = (
            g.flat[a as usize].saturating_abs(),
            g.flat[b as usize].saturating_abs(),
        );
        let (ca, cb) = (
            g.cum[a as usize].saturating_abs(),
            g.cum[b as usize].saturating_abs(),
        );
        let by_name = || nodes.display(a).cmp(nodes.display(b));
        match sort {
            TopSort::Flat => fb.cmp(&fa).then_with(by_name).then_with(|| cb.cmp(&ca)),
            TopSort::Cum => cb.cmp(&ca).then_with(by_name).then_with(|| fb.cmp(&fa)),
        }
    });
}
