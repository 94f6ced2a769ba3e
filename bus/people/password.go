package people

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id parameters of new password hashes
// (RFC 9106). The defaults follow RFC 9106's second recommended option
// (64 MiB of memory, 3 passes) with 2 lanes (BenchmarkHashPassword): slow
// and memory-hard enough that a stolen database costs an attacker that
// much per guess and per account, fast enough for a login. Hashes
// carry their parameters, so a stronger setting applies to new and changed
// passwords without breaking old ones. Concurrent hashes are bounded by
// Service (each takes Memory KiB).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	KeyLen  uint32
	SaltLen int
}

// DefaultArgon2 are the parameters of new hashes.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2, KeyLen: 32, SaltLen: 16}

// maxPasswordBytes bounds what is hashed: argon2 hashes any length, but a
// megabyte "password" is an attack, not a password.
const maxPasswordBytes = 1024

// HashPassword returns the PHC string of password:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded base64).
func HashPassword(password string, pp Argon2Params) (string, error) {
	salt := make([]byte, pp.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, pp.Time, pp.Memory, pp.Threads, pp.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, pp.Memory, pp.Time, pp.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string hash. A
// malformed hash, or one whose parameters are out of the bounds this node
// accepts (memory above 1 GiB …), never matches.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var pp Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &pp.Memory, &pp.Time, &pp.Threads); err != nil {
		return false
	}
	if pp.Memory < 8 || pp.Memory > 1<<20 || pp.Time < 1 || pp.Time > 16 || pp.Threads < 1 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, pp.Time, pp.Memory, pp.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
