package activity

import (
	"context"
	"crypto/ed25519"
	"fmt"
)

// Problem is one place where a chain does not hold.
type Problem struct {
	Node string `json:"node"`
	Seq  int64  `json:"seq"`
	What string `json:"what"`
}

func (p Problem) String() string { return fmt.Sprintf("node %s, entry %d: %s", p.Node, p.Seq, p.What) }

// NodeResult is the verification of one node's chain.
type NodeResult struct {
	Node        string `json:"node"`
	Entries     int64  `json:"entries"`
	Checkpoints int    `json:"checkpoints"`
	LastSeq     int64  `json:"last_seq"`
	Signed      int64  `json:"signed_through"` // entries up to here are covered by a valid checkpoint
}

// Report is the verification of every chain in the store.
type Report struct {
	Nodes    []NodeResult `json:"nodes"`
	Problems []Problem    `json:"problems"`
}

// OK reports whether every chain holds.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks every node's chain: sequence numbers without gaps (a
// deleted or inserted entry), each entry's link to the one before (a
// reordered or inserted entry), each entry's hash against its content (an
// edited entry), and each checkpoint's signature and hash (a rewritten or
// truncated chain). It reads the chain in pages, so its memory does not
// grow with the log.
func Verify(ctx context.Context, st Store) (Report, error) {
	var rep Report
	nodes, err := st.ActivityNodes(ctx)
	if err != nil {
		return rep, err
	}
	for _, node := range nodes {
		nr, probs, err := verifyNode(ctx, st, node)
		if err != nil {
			return rep, err
		}
		rep.Nodes = append(rep.Nodes, nr)
		rep.Problems = append(rep.Problems, probs...)
	}
	return rep, nil
}

func verifyNode(ctx context.Context, st Store, node string) (NodeResult, []Problem, error) {
	nr := NodeResult{Node: node}
	var probs []Problem
	bad := func(seq int64, f string, a ...any) {
		probs = append(probs, Problem{Node: node, Seq: seq, What: fmt.Sprintf(f, a...)})
	}
	cps, err := st.Checkpoints(ctx, node)
	if err != nil {
		return nr, nil, err
	}
	nr.Checkpoints = len(cps)
	keyID, pub, kerr := publicKey(ctx, st, node)
	cpAt := map[int64]string{} // seq → hash of checkpoints whose signature holds
	for _, c := range cps {
		switch {
		case kerr != nil:
			bad(c.Seq, "checkpoint cannot be checked: %v", kerr)
		case c.KeyID != keyID || !ed25519.Verify(pub, checkpointMessage(node, c.Seq, c.Hash), c.Sig):
			bad(c.Seq, "checkpoint signature does not verify (checkpoint edited or forged)")
		default:
			cpAt[c.Seq] = c.Hash
		}
	}
	var prev string
	var expect int64 = 1
	first := true
	for {
		page, err := st.ActivityChain(ctx, node, expect-1, 1000)
		if err != nil {
			return nr, nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if first && e.Seq > 1 {
				// Entries before a signed checkpoint may have been pruned
				// by retention; the checkpoint anchors the rest.
				if h, ok := cpAt[e.Seq-1]; ok {
					prev, expect = h, e.Seq
				}
			}
			first = false
			if e.Seq != expect {
				bad(expect, "entries %d to %d are missing (deleted)", expect, e.Seq-1)
			} else if e.PrevHash != prev {
				bad(e.Seq, "does not link to the entry before it (inserted, reordered or the one before was edited)")
			}
			if Hash(e) != e.Hash {
				bad(e.Seq, "content does not match its hash (edited)")
			}
			if h, ok := cpAt[e.Seq]; ok {
				if h != e.Hash {
					bad(e.Seq, "differs from the signed checkpoint (chain rewritten)")
				} else if len(probs) == 0 {
					nr.Signed = e.Seq
				}
			}
			prev, expect = e.Hash, e.Seq+1
			nr.Entries++
			nr.LastSeq = e.Seq
		}
	}
	for _, c := range cps {
		if c.Seq > nr.LastSeq {
			bad(nr.LastSeq+1, "entries %d to %d are missing: a signed checkpoint covers them (tail deleted)", nr.LastSeq+1, c.Seq)
			break
		}
	}
	return nr, probs, nil
}
