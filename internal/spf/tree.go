package spf

// Branch is one DNS-querying term of a record in the include/redirect
// tree, with the record it leads to (Child, for include and redirect).
type Branch struct {
	Term  TermInfo
	Child *Node
}

// Branches lists the terms of n's record that ask the DNS, in record
// order, each with the record it reaches when it is an include or a
// redirect: the tree as a person reads it, as data (the presenter draws
// it).
func (n *Node) Branches() []Branch {
	var out []Branch
	for i, ti := range n.Terms {
		var child *Node
		for _, c := range n.Children {
			if c.termIdx == i {
				child = c
			}
		}
		if child != nil || ti.Lookup {
			out = append(out, Branch{Term: ti, Child: child})
		}
	}
	return out
}
