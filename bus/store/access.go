package store

// AccessStore persists who may do what (grants, deny by default) and the
// audit record of key operations (issued, rotated, revoked, locked).
type AccessStore interface {
}
