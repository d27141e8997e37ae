package bijotel

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// childRoleEnv names the environment variable that makes the test binary run
// as a child process in the given role instead of running tests. Tests that
// need several processes, or a process to kill, re-execute the binary with it.
const childRoleEnv = "BIJOTEL_TEST_CHILD"

// soak enables the long multi-process and SIGKILL runs.
var soak = flag.Bool("soak", false, "run the multi-process and SIGKILL tests with many more spans and kills")

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

// runChild runs the child role and returns the exit code. Children read
// their parameters from BIJOTEL_TEST_* variables and report on stdout.
func runChild(role string) int {
	var err error
	switch role {
	case "multi-writer":
		err = childMultiWriter()
	case "kill-writer":
		err = childKillWriter()
	case "disk-full":
		err = childDiskFull()
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
		return 1
	}
	return 0
}

// childCommand returns a command that runs the test binary as a child in
// role with the given BIJOTEL_TEST_* variables.
func childCommand(t testing.TB, role string, env map[string]string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}
