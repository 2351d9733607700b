# clamav.sh - a signature database for the virus tests, built here
#
#   av_db DIR     fill DIR with ClamAV's own test signatures (t/corpus/
#                 clamav/sigs: clam.exe by hash, and a body signature) and
#                 an EICAR hash signature made with sigtool from the
#                 68-byte EICAR test string; never freshclam
#   av_eicar FILE write the EICAR test string to FILE
#
# Names come back from libclamav with ".UNOFFICIAL" appended.

AV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

av_eicar() {
	printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$1"
}

av_db() {
	mkdir -p "$1"
	cp "$AV_TOP/t/corpus/clamav/sigs/clamav.hdb" \
		"$AV_TOP/t/corpus/clamav/sigs/other_sigs/Clamav-Unit-Test-Signature.ndb" "$1/"
	av_eicar "$1/eicar.com"
	(cd "$1" && sigtool --md5 eicar.com >eicar.hdb && rm -f eicar.com) || return 1
	[ -s "$1/eicar.hdb" ]
}

# av_dated_db DIR DAYS [VERSION]: fill DIR with the test signatures as one
# daily.cud (sigtool --build --unsigned: a .cvd without the publisher's
# signature), dated DAYS days ago (version VERSION, default 12345): the
# build time libclamav reports as CL_ENGINE_DB_TIME.  The 512-byte header
# "ClamAV-VDB:date:version:sigs:flevel:md5:dsig:builder:time" and the
# first line of daily.info in the archive after it say the same; the MD5
# is of that archive (tar.gz), made again here with the new date in it.
av_dated_db() {
	local dir=$1 days=$2 ver=${3:-12345} b
	b=$(mktemp -d) || return 1
	av_db "$b/sigs" || return 1
	cat "$b/sigs/clamav.hdb" "$b/sigs/eicar.hdb" >"$b/daily.hdb"
	cp "$b/sigs/Clamav-Unit-Test-Signature.ndb" "$b/daily.ndb"
	echo "test signatures" >"$b/COPYING"
	(cd "$b" && echo sinkd-tests | sigtool --build=daily.cud --unsigned \
		--cvd-version="$ver" --datadir="$b/none" >/dev/null 2>&1) || { rm -rf "$b"; return 1; }
	mkdir -p "$dir"
	python3 - "$b/daily.cud" "$dir/daily.cud" "$days" <<'PY' || { rm -rf "$b"; return 1; }
import gzip, hashlib, io, sys, tarfile, time
src, dst, days = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(src, "rb").read()
t = int(time.time() - days * 86400)
date = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(t))

def redate(line):
    f = line.split(":")
    f[1], f[8] = date, str(t)
    return ":".join(f)

out = io.BytesIO()
with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data[512:]))) as tin, \
     tarfile.open(fileobj=out, mode="w:gz", format=tarfile.USTAR_FORMAT) as tout:
    for m in tin.getmembers():
        body = tin.extractfile(m).read()
        if m.name.endswith(".info"):
            first, rest = body.decode().split("\n", 1)
            body = (redate(first) + "\n" + rest).encode()
            m.size = len(body)
        tout.addfile(m, io.BytesIO(body))
archive = out.getvalue()
f = redate(data[:512].rstrip(b"\0 ").decode()).split(":")
f[5] = hashlib.md5(archive).hexdigest()
open(dst, "wb").write(":".join(f).encode().ljust(512, b" ") + archive)
PY
	rm -rf "$b"
	[ -s "$dir/daily.cud" ]
}
