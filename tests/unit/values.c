/* values.c - sizes, names and UUIDs as every command parses them. */
#include "engine/hv.h"
#include "tests/tap.h"

static void
size_ok(const char *s, uint64_t want)
{
	uint64_t got = 0;
	int rc = hv_parse_size(s, &got);

	ok(rc == 0 && got == want, "size '%s' = %llu", s, (unsigned long long)want);
}

static void
size_bad(const char *s)
{
	uint64_t got;

	ok(hv_parse_size(s, &got) != 0, "size '%s' is rejected", s);
}

static void
fmt_is(uint64_t v, const char *want)
{
	char buf[32];

	hv_format_size(v, buf, sizeof buf);
	is_str(buf, want, "format %llu", (unsigned long long)v);
}

int
main(void)
{
	struct hv_err err;
	char u1[HV_UUID_LEN], u2[HV_UUID_LEN];

	size_ok("512M", 512ull << 20);
	size_ok("2G", 2ull << 30);
	size_ok("1T", 1ull << 40);
	size_ok("1048576", 1048576);
	size_ok("4k", 4096);
	size_ok("2GiB", 2ull << 30);
	size_ok("2GB", 2ull << 30);
	size_ok("1.5G", 3ull << 29);
	size_ok("0", 0);
	size_bad("");
	size_bad("G");
	size_bad("-1G");
	size_bad("12Q");
	size_bad("1.5");
	size_bad("1.3B");
	size_bad("2 G");
	size_bad("99999999999999999999");
	size_bad("16777216T");
	size_bad("1GX");
	size_bad(".5G");

	fmt_is(0, "0");
	fmt_is(1000, "1000");
	fmt_is(1024, "1K");
	fmt_is(1536ull << 20, "1536M");
	fmt_is(1ull << 30, "1G");
	fmt_is(3ull << 40, "3T");

	ok(hv_name_valid("web-01.prod_a", &err), "plain name is valid");
	ok(!hv_name_valid("a/b", &err) && err.code == HV_EUSAGE, "'/' rejected");
	ok(!hv_name_valid("a b", &err), "space rejected");
	ok(!hv_name_valid("", &err), "empty rejected");
	ok(!hv_name_valid("-x", &err), "leading dash rejected");
	ok(!hv_name_valid("caf\xc3\xa9", &err), "non-ASCII rejected");
	ok(!hv_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &err),
	   "64 characters rejected");
	ok(hv_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &err),
	   "63 characters accepted");

	hv_uuid_new(u1);
	hv_uuid_new(u2);
	ok(hv_uuid_like(u1), "new UUID looks like one: %s", u1);
	ok(u1[14] == '4', "version 4");
	ok(strcmp(u1, u2) != 0, "two UUIDs differ");
	ok(!hv_uuid_like("web1"), "a name is not a UUID");
	return done_testing();
}
