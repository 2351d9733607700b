/*
 * archive - the names of the members of archives, for the banned
 *	attachment rules
 *
 * archive_names() reads bytes (an attachment, decoded) with libarchive
 * and gives the path of every member to a callback: zip (the central
 * directory, and the local headers too, for names the central directory
 * does not show), 7z, rar, rar5, tar, ISO 9660 and cab, compressed or
 * not (gzip, bzip2, xz, lzma, lzip, zstd, compress, lz4: only what the
 * library decodes itself, never an external program), and a single file
 * compressed alone, named as its attachment without the suffix
 * ("x.exe.gz" holds "x.exe").  Each member's data is read to look for
 * archives inside it, whose members are given in turn with the path of
 * the archive before them ("inner.zip/x.exe").  Encrypted members keep
 * their names readable in zip, 7z and rar: those are given, but their
 * data cannot be read and is not looked into.
 *
 * The limits hold over every archive of one message, counted in a
 * struct archive_count the caller keeps: how deep archives nest, how
 * many members there are, how many bytes are decompressed.  Going past
 * one, or an archive that cannot be read to its end (damaged, or its
 * names encrypted), is not a pass: the caller cannot know what it did
 * not see.
 *
 * Threading: no state of its own beyond a table of the filters the
 * library has, made once; callable from any thread.
 */
#ifndef SINKD_ARCHIVE_H
#define SINKD_ARCHIVE_H

#include <stddef.h>

struct archive_limits {
	unsigned depth;		/* archive levels read; 1: no archive inside one */
	unsigned members;	/* members of a message's archives, all together */
	unsigned long long size;	/* bytes decompressed, all together */
};

struct archive_count {
	unsigned members;
	unsigned long long size;
};

enum archive_result {
	ARCHIVE_RESULT_NONE,	/* not an archive it reads */
	ARCHIVE_RESULT_DONE,	/* every member's name was given */
	ARCHIVE_RESULT_STOPPED,	/* the callback asked to stop */
	ARCHIVE_RESULT_DEPTH,	/* archives nested deeper than the limit */
	ARCHIVE_RESULT_MEMBERS,	/* more members than the limit */
	ARCHIVE_RESULT_SIZE,	/* more bytes decompressed than the limit */
	ARCHIVE_RESULT_UNREADABLE,	/* damaged, or its names encrypted */
};

/* archive_name_fn - a member's path (UTF-8 where the archive says what
 * its names are in, else its bytes as they are); nonzero stops */
typedef int (*archive_name_fn)(const char *path, void *ctx);

/* archive_names - the names in data, whose attachment is called name
 * (or NULL); count is updated */
enum archive_result archive_names(const void *data, size_t len, const char *name,
				  const struct archive_limits *l,
				  struct archive_count *count,
				  archive_name_fn fn, void *ctx);

/* archive_names_fd - the same for the file open on fd */
enum archive_result archive_names_fd(int fd, const char *name,
				     const struct archive_limits *l,
				     struct archive_count *count,
				     archive_name_fn fn, void *ctx);

/* archive_result_name - for a log line: "nested too deep", ... */
const char *archive_result_name(enum archive_result r);

#endif
