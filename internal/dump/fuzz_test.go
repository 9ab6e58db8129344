package dump

import (
	"bytes"
	"testing"
)

// FuzzImport feeds arbitrary bytes to the dump reader. It must never panic,
// and whatever it accepts must survive a write and a second read unchanged.
func FuzzImport(f *testing.F) {
	f.Add(writeDump(f, sampleRecords(f)))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := readDump(t, data, ReadOptions{Now: fixedNow})
		if err != nil && len(recs) == 0 {
			return
		}
		again := writeDump(t, recs)
		back, r, err := readDump(t, again, ReadOptions{Now: fixedNow})
		if err != nil {
			t.Fatalf("reading back what the writer wrote: %v\n%s", err, again)
		}
		if !r.Complete() {
			t.Fatal("the writer's dump has no end line")
		}
		if len(back) != len(recs) {
			t.Fatalf("read back %d records, wrote %d", len(back), len(recs))
		}
		for i := range recs {
			if !sameRecord(back[i], recs[i]) {
				t.Fatalf("record %d changed in a round trip:\nfirst  %q %s %s %v\nsecond %q %s %s %v", i,
					recs[i].Key, recs[i].Value.Type(), recs[i].Value.JSON(), recs[i].Expires,
					back[i].Key, back[i].Value.Type(), back[i].Value.JSON(), back[i].Expires)
			}
		}
		if third := writeDump(t, back); !bytes.Equal(third, again) {
			t.Fatalf("writing the same records twice differs:\n%s\n%s", again, third)
		}
	})
}
