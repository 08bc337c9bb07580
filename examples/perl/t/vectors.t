#!/usr/bin/perl
# core/testdata/vectors.json through Sixgate.pm, one call per vector: Perl
# agrees bit for bit with the Rust core, Python and Node.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use Test::More;

use Sixgate qw(:all);

my $v = vectors();

# What each error kind of the vectors reads like in sixgate's message.
my %prefix_error = (
    length    => qr/prefix length \d+ is not one of 32, 40, 48, 56, 64, 96/,
    host_bits => qr/has bits set beyond the prefix length/,
    u_octet   => qr/u-octet/,
    syntax    => qr/is not an IPv6 prefix/,
);
my %extract_error = (
    outside_prefix => qr/is not inside the NAT64 prefix/,
    u_octet        => qr/u-octet \(bits 64-71\)/,
);
my %fmt_error = (
    port_required      => qr/style needs a port/,
    port_not_allowed   => qr/style takes no port/,
    prefix_not_allowed => qr/takes an address, not a prefix/,
    zone               => qr/zone ID in/,
    addr               => qr/is not an IP address/,
    style              => qr/is not a style/,
);

sub croaks_like {
    my ($code, $re, $name) = @_;
    my $ok = eval { $code->(); 1 };
    my $err = $@;
    ok(!$ok, "$name croaks") or return;
    like($err, qr/^sixgate: error: /, "$name: sixgate's message");
    like($err, $re, "$name: says why");
    like($err, qr/ at \Q$0\E line \d+\.$/, "$name: croaked from the caller's line");
    return $err;
}

subtest 'rfc6052 embed table, every length' => sub {
    my $rows = $v->{rfc6052}{embed};
    cmp_ok(scalar @$rows, '>=', 7, 'the RFC 6052 table is there');
    for my $r (@$rows) {
        my $got = synthesize($r->{ipv4}, prefix => $r->{prefix}, allow_non_global => 1);
        is($got, $r->{ipv6}, "synthesize $r->{ipv4} under $r->{prefix}");
        ok(is_canonical_text($got), "$got is lowercase canonical");
        is(canonical($r->{ipv6_rfc}), $r->{ipv6}, "the RFC's text $r->{ipv6_rfc} is the same address");
        is(extract($got, prefix => $r->{prefix}), $r->{ipv4}, "extract back $got");
        # Any case in, lowercase out.
        is(synthesize($r->{ipv4}, prefix => uc $r->{prefix}, allow_non_global => 1),
           $r->{ipv6}, 'prefix in upper case');
        is(extract(uc $r->{ipv6_rfc}, prefix => $r->{prefix}), $r->{ipv4},
           "extract $r->{ipv6_rfc} in upper case");
    }
};

subtest 'rfc6052 bad prefixes' => sub {
    for my $r (@{ $v->{rfc6052}{bad_prefixes} }) {
        my $re = $prefix_error{ $r->{error} } or die "unknown kind $r->{error}";
        my $err = croaks_like(sub { synthesize('131.111.150.25', prefix => $r->{prefix}) },
                              $re, "prefix \"$r->{prefix}\" ($r->{error})");
        croaks_like(sub { extract('64:ff9b::836f:9619', prefix => $r->{prefix}) },
                    $re, "extract under \"$r->{prefix}\"");
        if ($r->{error} eq 'syntax') {
            like($err, qr/\Q"$r->{prefix}"\E/, 'the message quotes the prefix as given');
        }
    }
};

subtest 'rfc6052 extract errors' => sub {
    for my $r (@{ $v->{rfc6052}{extract_errors} }) {
        my $err = croaks_like(sub { extract($r->{ipv6}, prefix => $r->{prefix}) },
                              $extract_error{ $r->{error} }, "extract $r->{ipv6} ($r->{error})");
        my $canon = canonical($r->{ipv6});
        like($err, qr/\Q$canon\E/, 'the message names the address');
    }
};

subtest 'rfc6052 §3.1: non-global IPv4 under the well-known prefix' => sub {
    for my $r (@{ $v->{rfc6052}{non_global} }) {
        my $err = croaks_like(sub { synthesize($r->{ipv4}) }, qr/RFC 6052 §3\.1/, "synthesize $r->{ipv4}");
        like($err, qr/^sixgate: error: \Q$r->{ipv4}\E is in \Q$r->{range}\E \(\Q$r->{name}\E/,
             "names $r->{ipv4}, its range $r->{range} and \"$r->{name}\"");
        my $v6 = synthesize($r->{ipv4}, allow_non_global => 1);
        like($v6, qr/^64:ff9b::/, "allowed explicitly: $v6");
        is(extract($v6), $r->{ipv4}, 'and extracted back');
        # A network-specific prefix carries any address.
        my $nsp = synthesize($r->{ipv4}, prefix => '64:ff9b:1::/48');
        is(extract($nsp, prefix => '64:ff9b:1::/48'), $r->{ipv4}, "under 64:ff9b:1::/48: $nsp");
    }
    for my $g (@{ $v->{rfc6052}{global} }) {
        my $v6 = synthesize($g);
        is($v6, synthesize($g, allow_non_global => 1), "global $g needs no permission");
        is(extract($v6), $g, "$v6 extracts to $g");
    }
};

subtest 'rfc6052 discover (RFC 7050)' => sub {
    for my $r (@{ $v->{rfc6052}{discover} }) {
        my @answers = @{ $r->{answers} };
        if ($r->{prefixes}) {
            is_deeply([ discover(@answers) ], $r->{prefixes}, "discover @answers");
            is_deeply([ discover(\@answers) ], $r->{prefixes}, 'the same from an array reference');
        } else {
            is($r->{error}, 'not_discovered', 'the only error kind the vectors have');
            croaks_like(sub { discover(@answers) }, qr/ipv4only\.arpa/, "discover @answers");
        }
    }
};

subtest 'text: canonical and bad addresses' => sub {
    for my $r (@{ $v->{text}{canonical} }) {
        my $got = canonical($r->{input});
        is($got, $r->{output}, "canonical $r->{input}");
        ok(is_canonical_text($got), "$got is lowercase canonical");
    }
    for my $bad (@{ $v->{text}{bad_addresses} }) {
        (my $q = $bad) =~ s/"/\\"/g;
        croaks_like(sub { canonical($bad) }, qr/\Q"$q" is not an IP address\E/, "canonical \"$bad\"");
        croaks_like(sub { ptr($bad) }, qr/\Q"$q"\E/, "ptr \"$bad\"");
        croaks_like(sub { normalize($bad) }, qr/\Q"$q"\E/, "normalize \"$bad\"");
    }
};

subtest 'text: host:port, URL hosts, PTR names' => sub {
    for my $r (@{ $v->{text}{host_port} }) {
        is(fmt($r->{address}, style => 'hostport', port => $r->{port}), $r->{output},
           "hostport $r->{address} $r->{port}");
    }
    for my $r (@{ $v->{text}{url_host} }) {
        is(fmt($r->{address}, style => 'url'), $r->{output}, "url $r->{address}");
    }
    for my $r (@{ $v->{text}{ptr} }) {
        is(ptr($r->{address}), $r->{ptr}, "ptr $r->{address}");
        is(ptr(uc $r->{address}), $r->{ptr}, 'in upper case too');
    }
};

subtest 'text: reverse zones' => sub {
    for my $r (@{ $v->{text}{reverse_zones} }) {
        is_deeply([ reverse_zones($r->{prefix}) ], $r->{zones}, "reverse_zones $r->{prefix}");
    }
    for my $bad (@{ $v->{text}{bad_prefixes} }) {
        croaks_like(sub { reverse_zones($bad) }, qr/\Q"$bad"\E/, "reverse_zones \"$bad\"");
    }
};

subtest 'text: munin lines' => sub {
    for my $r (@{ $v->{text}{munin_allow} }) {
        is(fmt($r->{address}, style => 'munin-allow'), $r->{line}, "munin-allow $r->{address}");
    }
    for my $r (@{ $v->{text}{munin_cidr} }) {
        is(fmt($r->{input}, style => 'munin-cidr'), $r->{line}, "munin-cidr $r->{input}");
    }
};

subtest 'text: normalize' => sub {
    for my $r (@{ $v->{text}{normalize} }) {
        my $got = normalize($r->{address}, nat64_prefixes => $r->{nat64_prefixes});
        is($got, $r->{output}, "normalize $r->{address} with [@{ $r->{nat64_prefixes} }]");
        ok(is_canonical_text($got), "$got is lowercase canonical");
    }
};

subtest 'text: every config style' => sub {
    my %styles;
    for my $r (@{ $v->{text}{fmt} }) {
        $styles{ $r->{style} }++;
        my @port = defined $r->{port} ? (port => $r->{port}) : ();
        my $name = "fmt $r->{style} $r->{address}" . (@port ? " port $r->{port}" : '');
        if (exists $r->{output}) {
            is(fmt($r->{address}, style => $r->{style}, @port), $r->{output}, $name);
        } else {
            my $re = $fmt_error{ $r->{error} } or die "unknown kind $r->{error}";
            croaks_like(sub { fmt($r->{address}, style => $r->{style}, @port) }, $re,
                        "$name ($r->{error})");
        }
    }
    for my $style (qw(hostport url nginx haproxy apache sshd bind nsd known-hosts munin-allow munin-cidr)) {
        ok($styles{$style}, "the vectors cover $style");
    }
};

subtest 'no section of the vectors file is left out' => sub {
    my %tested = (
        rfc6052 => [qw(embed bad_prefixes extract_errors non_global global discover)],
        text    => [qw(canonical bad_addresses host_port url_host ptr reverse_zones bad_prefixes
                       munin_allow munin_cidr normalize fmt)],
    );
    is_deeply([ sort grep { !/^_/ } keys %$v ], [ sort keys %tested ], 'the top-level sections');
    for my $top (sort keys %tested) {
        is_deeply([ sort keys %{ $v->{$top} } ], [ sort @{ $tested{$top} } ],
                  "every $top section is tested above");
    }
};

done_testing;
