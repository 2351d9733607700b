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
