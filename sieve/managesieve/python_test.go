package managesieve

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// pyClient is a small ManageSieve client in Python, written from RFC
// 5804 alone: it reads responses (quoted strings and literals), uploads
// a script, lists, activates, downloads and deletes, and prints what it
// saw as JSON.
const pyClient = `
import json, re, socket, sys

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = sock.makefile("rb")

def read_string(line):
    m = re.match(rb'^\{(\d+)\+?\}$', line)
    if m:
        data = f.read(int(m.group(1)))
        rest = f.readline().rstrip(b"\r\n")
        return data.decode(), rest
    return line.decode(), b""

def response():
    """Lines up to OK/NO/BYE; returns (lines, final)."""
    lines = []
    while True:
        line = f.readline().rstrip(b"\r\n")
        if re.match(rb'^(OK|NO|BYE)\b', line):
            if line.endswith(b"}"):
                head, _, size = line.rpartition(b"{")
                data = f.read(int(size[:-1].rstrip(b"+")))
                line = head + b'"' + data + b'"' + f.readline().rstrip(b"\r\n")
            return lines, line.decode()
        m = re.match(rb'^\{(\d+)\}$', line)
        if m:
            lines.append(f.read(int(m.group(1))).decode())
            f.readline()
        else:
            lines.append(line.decode())

def cmd(c, literal=None):
    data = c.encode()
    if literal is not None:
        b = literal.encode()
        data += b" {%d+}\r\n" % len(b) + b
    sock.sendall(data + b"\r\n")
    return response()

out = {"greeting": response()[1]}
script = 'require ["fileinto"];\r\nif address :is "from" "boss@example.com" {\r\n  fileinto "Boss";\r\n}\r\n'
out["put"] = cmd('PUTSCRIPT "python"', script)[1]
out["bad"] = cmd('PUTSCRIPT "broken"', "if true {\r\n")[1]
out["list1"] = cmd("LISTSCRIPTS")[0]
out["activate"] = cmd('SETACTIVE "python"')[1]
out["list2"] = cmd("LISTSCRIPTS")[0]
lines, final = cmd('GETSCRIPT "python"')
out["get"] = lines[0] == script and final.startswith("OK")
out["delete_active"] = cmd('DELETESCRIPT "python"')[1]
cmd('SETACTIVE ""')
out["delete"] = cmd('DELETESCRIPT "python"')[1]
out["list3"] = cmd("LISTSCRIPTS")[0]
out["logout"] = cmd("LOGOUT")[1]
print(json.dumps(out))
`

func TestPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed (scripts/test-deps.sh installs it)")
	}
	srv := newServer(t, nil)
	port := srv.addr[strings.LastIndexByte(srv.addr, ':')+1:]
	outb, err := exec.Command(python, "-c", pyClient, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, outb)
	}
	var got map[string]any
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("python output %q: %v", outb, err)
	}
	want := map[string]any{
		"greeting":      `OK "Logged in."`,
		"put":           `OK "PUTSCRIPT completed."`,
		"list1":         []any{`"python"`},
		"activate":      `OK "Setactive completed."`,
		"list2":         []any{`"python" ACTIVE`},
		"get":           true,
		"delete_active": `NO (ACTIVE) "Cannot delete the active script."`,
		"delete":        `OK "Deletescript completed."`,
		"list3":         []any{},
		"logout":        `OK "Logout completed."`,
	}
	bad, _ := got["bad"].(string)
	delete(got, "bad")
	if !strings.HasPrefix(bad, `NO "`) {
		t.Errorf("broken script: %q, want NO with the error", bad)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("python client saw\n%v\nwant\n%v", got, want)
	}
	if names, _ := srv.store.List(); len(names) != 0 {
		t.Errorf("scripts left: %v", names)
	}
}
