#!/usr/bin/perl
# How Sixgate.pm runs sixgate and fails: finding the binary, croak with
# sixgate's message (exit 2 and exit 1), a missing binary, no shell, values
# that look like options, unknown options, and the three calling styles.

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use File::Temp qw(tempdir);
use Test::More;

use Sixgate qw(synthesize ptr canonical fmt);

my $bin = $ENV{SIXGATE};
ok(-x $bin, "the binary under test: $bin");

subtest 'three calling styles, one answer' => sub {
    my $want = '64:ff9b::836f:9619';
    is(synthesize('131.111.150.25'), $want, 'exported function');
    is(Sixgate::synthesize('131.111.150.25'), $want, 'fully qualified function');
    is(Sixgate->synthesize('131.111.150.25'), $want, 'class method');
    my $sg = Sixgate->new(bin => $bin);
    is($sg->bin, $bin, 'the object keeps its binary');
    is($sg->synthesize('131.111.150.25'), $want, 'object method');
    is($sg->canonical('2001:DB8:0:0:0:0:0:1'), '2001:db8::1', 'object method, canonical');
};

subtest 'the binary: constructor, then import option, then $SIXGATE, then PATH' => sub {
    my $dir = tempdir(CLEANUP => 1);
    # A wrapper that leaves a mark, so we can see which binary ran.
    my $wrapper = "$dir/sixgate-wrapper";
    open my $fh, '>', $wrapper or die $!;
    print $fh "#!/bin/sh\necho ran >> '$dir/mark'\nexec '$bin' \"\$@\"\n";
    close $fh;
    chmod 0755, $wrapper;
    my $want = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.';
    is(Sixgate->new(bin => $wrapper)->ptr('::1'), $want, 'constructor option');
    ok(-e "$dir/mark", 'ran the wrapper');
    unlink "$dir/mark";
    {
        local $ENV{SIXGATE} = $wrapper;
        is(Sixgate->new->ptr('::1'), $want, '$SIXGATE');
        ok(-e "$dir/mark", 'ran the wrapper');
        unlink "$dir/mark";
        is(Sixgate->new(bin => $bin)->ptr('::1'), $want, 'the constructor beats $SIXGATE');
        ok(!-e "$dir/mark", 'not the wrapper');
        is(ptr('::1'), $want, 'a plain function');
        ok(-e "$dir/mark", 'follows $SIXGATE as it is at the call');
        unlink "$dir/mark";
    }
    {
        local $ENV{SIXGATE};
        delete $ENV{SIXGATE};
        local $ENV{PATH} = "$dir:$ENV{PATH}";
        symlink $wrapper, "$dir/sixgate" or die $!;
        is(Sixgate->new->ptr('::1'), $want, 'sixgate from PATH');
        ok(-e "$dir/mark", 'found in PATH');
        unlink "$dir/mark";
        Sixgate->import(-bin => $bin);
        is(Sixgate->new->ptr('::1'), $want, 'use Sixgate -bin => PATH');
        ok(!-e "$dir/mark", 'the import option beats PATH');
        Sixgate->import(-bin => $wrapper);
        is(Sixgate->new(bin => $bin)->ptr('::1'), $want, 'the constructor beats -bin');
        ok(!-e "$dir/mark", 'not the wrapper');
        is(Sixgate::ptr('::1'), $want, 'the plain functions follow -bin');
        ok(-e "$dir/mark", 'through the wrapper');
        Sixgate->import(-bin => $bin);
    }
};

subtest 'a missing binary croaks, for single and batch calls' => sub {
    my $sg = Sixgate->new(bin => '/nonexistent/sixgate');
    ok(!eval { $sg->ptr('::1'); 1 }, 'croaks');
    like($@, qr{^sixgate: cannot run /nonexistent/sixgate: .*No such file or directory at \Q$0\E line \d+\.$},
         'names the binary and the reason, at the caller');
    is($Sixgate::EXIT, -1, '$Sixgate::EXIT is -1');
    ok(!eval { $sg->ptr_list([ '::1', '::2' ]); 1 }, 'batch croaks');
    like($@, qr{^sixgate: cannot run /nonexistent/sixgate}, 'the same way');
    ok(!eval { Sixgate->new(bin => 'no-such-sixgate-here')->ptr('::1'); 1 }, 'not in PATH');
    like($@, qr{^sixgate: cannot run no-such-sixgate-here: }, 'croaks');
};

subtest "refused input croaks with sixgate's own line, exit 2" => sub {
    ok(!eval { synthesize('10.1.2.3'); 1 }, 'non-global under the well-known prefix');
    like($@, qr/^sixgate: error: 10\.1\.2\.3 is in 10\.0\.0\.0\/8 \(private-use, RFC 1918\), which is not global: RFC 6052 §3\.1 forbids it/,
         'the message, decoded (§ is one character)');
    is($Sixgate::EXIT, 2, 'exit 2');
    ok(!eval { ptr('192.0.2.300'); 1 }, 'a bad address');
    like($@, qr/^sixgate: error: "192\.0\.2\.300" is not an IP address at \Q$0\E line \d+\.$/,
         'quotes the value, croaks at the caller');
    ok(!eval { fmt('2001:db8::1', style => 'squid'); 1 }, 'a bad style');
    like($@, qr/"squid" is not a style/, 'names it');
    ok(!eval { fmt('2001:db8::1', style => 'nginx', port => 70000); 1 }, 'a port out of range');
    like($@, qr/^error: invalid value '70000' for '--port <PORT>'/,
         "a usage error: the first line of sixgate's message");
    is($Sixgate::EXIT, 2, 'exit 2');
};

subtest 'no shell, and values that look like options stay values' => sub {
    my $dir = tempdir(CLEANUP => 1);
    for my $evil ("::1; touch $dir/pwned", "\$(touch $dir/pwned)", "`touch $dir/pwned`", "::1 | touch $dir/pwned") {
        ok(!eval { ptr($evil); 1 }, "\"$evil\" is refused");
        like($@, qr/is not an IP address/, 'as an address');
    }
    ok(!-e "$dir/pwned", 'and no shell ran any of it');
    for my $dash ('--help', '-1', '--json') {
        ok(!eval { canonical($dash); 1 }, "\"$dash\" is a value");
        like($@, qr/\Q"$dash" is not an IP address\E/, 'refused as an address, not taken as a flag');
    }
    ok(!eval { synthesize('192.0.2.1', prefix => '--allow-non-global'); 1 }, 'an option value too');
    like($@, qr/"--allow-non-global" is not an IPv6 prefix/, 'is taken as the value');
};

subtest 'unknown options and missing values croak before running' => sub {
    ok(!eval { synthesize('192.0.2.1', perfix => '64:ff9b::/96'); 1 }, 'a misspelt option');
    like($@, qr/^Sixgate: synthesize: unknown option\(s\) perfix/, 'is named');
    ok(!eval { fmt('::1'); 1 }, 'fmt without a style');
    like($@, qr/fmt needs style/, 'says so');
    ok(!eval { ptr(undef); 1 }, 'undef');
    like($@, qr/^Sixgate: the input is undefined/, 'is refused');
    ok(!eval { Sixgate->new(binary => 'x'); 1 }, 'a misspelt constructor option');
    like($@, qr/unknown option\(s\) binary/, 'is named');
};

done_testing;
