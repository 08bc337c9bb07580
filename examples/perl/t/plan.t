#!/usr/bin/perl
# A panel's workflow on a plan file through Sixgate::Plan: a provider block
# and an IPv4 block, a site, a customer /64 with a host, lookups from the
# v4-mapped and NAT64 forms, DNS records, reservations, release with
# hold-down and reuse after it, and the error contract (exit 2 refused,
# exit 1 a lock not obtained).

use strict;
use warnings;
use utf8;

use FindBin;
use lib "$FindBin::Bin/lib";
use SixgateTest;

use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use Test::More;

use Sixgate qw(ptr);

my $dir  = tempdir(CLEANUP => 1);
my $file = "$dir/plan.json";
my $t0   = 1_780_000_000;
my $week = 7 * 86_400;
my $plan = Sixgate::Plan->new(file => $file, now => $t0);

is($plan->file, $file, 'the plan file');

subtest 'init and pools' => sub {
    my $r = $plan->init(pool => '2001:DB8::/32', child => 48, strategy => 'sparse', name => 'provider');
    is($r->{pools}[0]{prefix}, '2001:db8::/32', 'the provider block, in lowercase');
    is($r->{pools}[0]{strategy}, 'sparse', 'sparse');
    is($r->{pools}[0]{usage}{free}, 65_536, '65,536 /48s free');
    ok(-s $file, 'the plan file is written');
    ok(!eval { $plan->init(pool => '2001:db8::/32', child => 48); 1 }, 'init again croaks');
    like($@, qr/^sixgate: error: \Q$file\E exists already \(use --force/, "with sixgate's message");
    is($Sixgate::EXIT, 2, 'exit 2');
    my $v4 = $plan->add_pool('198.51.100.0/24', child => 32, name => 'v4', hold_down => 0);
    is($v4->{prefix}, '198.51.100.0/24', 'an IPv4 pool');
    is($v4->{usage}{reserved}, 2, 'its network and broadcast addresses reserved');
    is($v4->{hold_down}, 0, 'no hold-down');
};

my ($site, $cust, $host, $host4);

subtest 'a site, a customer /64 and a host' => sub {
    $site = $plan->alloc('provider', subdivide => 64, name => 'fra1');
    is($site->{prefix}, '2001:db8::/48', 'the first sparse /48');
    is($site->{pool}{name}, 'fra1', 'made a pool');
    is($site->{pool}{child_len}, 64, 'of /64s');
    $cust = $plan->alloc('fra1', customer => 42, subdivide => 128, name => 'c42');
    is($cust->{prefix}, '2001:db8::/64', "customer 42's /64");
    is($cust->{customer}, '42', 'owned by 42');
    is($cust->{since}, $t0, 'since now');
    $host = $plan->alloc('c42', customer => 42, host => 'web1.example.com', tags => [ 'prod', 'eu' ]);
    is($host->{prefix}, '2001:db8::1/128', 'a host address (::0 is the subnet-router anycast, reserved)');
    is($host->{host}, 'web1.example.com', 'with its name');
    is_deeply([ sort @{ $host->{tags} } ], [ 'eu', 'prod' ], 'and tags');
    $host4 = $plan->alloc('v4', customer => 42, host => 'web1.example.com');
    is($host4->{prefix}, '198.51.100.1/32', 'a paid IPv4 address (.0 reserved)');
    my $odd = $plan->alloc('c42', customer => '-x', host => 'odd.example.com');
    is($odd->{customer}, '-x', 'a customer id starting with a dash is a value, not a flag');
    is($plan->release($odd->{prefix}), 1, 'released again');
};

subtest 'lookup from any form of the address' => sub {
    my $own = $plan->owner('::ffff:198.51.100.1');
    ok($own, 'the v4-mapped form finds an owner');
    is($own->{prefix}, '198.51.100.1/32', 'the IPv4 address');
    is($own->{customer}, '42', 'customer 42');
    is($own->{host}, 'web1.example.com', 'web1');
    my $row = $plan->lookup('64:ff9b::c633:6401', nat64_prefixes => ['64:ff9b::/96']);
    is($row->{prefix}, '198.51.100.1/32', 'the NAT64 form folds to the IPv4 address');
    is($row->{path}[-1]{status}, 'allocated', 'allocated');
    is($row->{path}[-1]{host}, 'web1.example.com', 'to web1');
    ok(!eval { $plan->lookup('64:ff9b::c633:6401'); 1 }, 'without the NAT64 prefix it is no address of ours');
    like($@, qr/^sixgate: error: 64:ff9b::c633:6401\/128 is not in any pool/, 'sixgate says so');
    my $v6 = $plan->lookup('2001:DB8:0:0::1');
    is($v6->{query}, '2001:DB8:0:0::1', 'the query as given');
    is($v6->{prefix}, '2001:db8::1/128', 'read canonically');
    is_deeply([ map { $_->{pool_name} } @{ $v6->{path} } ], [ 'provider', 'fra1', 'c42' ],
              'the path of pools down to the host');
    is($plan->owner('2001:db8::1')->{prefix}, '2001:db8::1/128', 'owner: the host, not its /64');
    is($plan->owner('2001:db8::99')->{prefix}, '2001:db8::/64', 'a free address: its customer /64');
    my @rows = $plan->lookup_list([ '::ffff:198.51.100.1', '2001:db8::1', '2001:db8:0:7::/64' ]);
    is(scalar @rows, 3, 'lookup_list: one row per query');
    is($rows[2]{path}[-1]{status}, 'free', 'a free /64');
};

subtest 'DNS records' => sub {
    my @ptr = $plan->export_zone;
    my %ptr = map { $_->{name} => $_ } @ptr;
    is(scalar @ptr, 2, 'two PTR records');
    is($ptr{ ptr('2001:db8::1') }{data}, 'web1.example.com.', 'the IPv6 PTR, named as ptr() names it');
    is($ptr{ ptr('198.51.100.1') }{data}, 'web1.example.com.', 'the IPv4 PTR');
    is($ptr{ ptr('198.51.100.1') }{type}, 'PTR', 'of type PTR');
    my @fwd = $plan->export_zone(forward => 1, ttl => 3600);
    is_deeply([ sort map { "$_->{name} $_->{ttl} $_->{type} $_->{data}" } @fwd ],
              [ 'web1.example.com. 3600 A 198.51.100.1', 'web1.example.com. 3600 AAAA 2001:db8::1' ],
              'forward records, lowercase addresses');
    my @within = $plan->export_zone(within => '2001:db8::/32');
    is(scalar @within, 1, 'within the IPv6 block: one record');
    my $text = $plan->zone_text(ttl => 300);
    like($text, qr/^\Q${\ ptr('2001:db8::1')}\E 300 IN PTR web1\.example\.com\.$/m, 'zone-file text');
};

subtest 'reservations, free space and show' => sub {
    is_deeply([ $plan->free('fra1', limit => 2) ], [ '2001:db8:0:1::/64', '2001:db8:0:2::/63' ],
              'free space as the largest aligned blocks');
    my $r = $plan->reserve('fra1', '2001:db8:0:1::/64', reason => 'infrastructure');
    is($r->{reserved}, '2001:db8:0:1::/64', 'reserved');
    my $c43 = $plan->alloc('fra1', customer => 43);
    is($c43->{prefix}, '2001:db8:0:2::/64', 'the next customer skips the reservation');
    my @zones = $plan->export_zone(zones => 1);
    is(scalar @zones, 1, 'one customer prefix to delegate');
    is($zones[0]{zone}, (Sixgate::reverse_zones('2001:db8:0:2::/64'))[0], "customer 43's reverse zone");
    is($zones[0]{customer}, '43', 'with its owner');
    my $fra1 = $plan->show('fra1');
    is($fra1->{usage}{allocated}, 2, 'fra1: two /64s allocated');
    is($fra1->{reserved}[0]{reason}, 'infrastructure', 'and the reservation');
    is_deeply([ sort map { $_->{prefix} } $plan->show_customer(42) ],
              [ '198.51.100.1/32', '2001:db8::/64', '2001:db8::1/128' ], "what customer 42 holds");
    is_deeply([ sort map { $_->{name} } @{ $plan->show->{pools} } ], [ 'c42', 'fra1', 'provider', 'v4' ],
              'show: every pool, nested ones too');
    $plan->unreserve('2001:db8:0:1::/64');
    is($plan->show('fra1')->{usage}{reserved}, 0, 'unreserved');
};

subtest 'release with hold-down, then reuse' => sub {
    my @gone = $plan->release_customer(42);
    my %until = map { $_->{prefix} => $_->{until} } @gone;
    is_deeply([ sort keys %until ], [ '198.51.100.1/32', '2001:db8::/64', '2001:db8::1/128' ],
              'everything customer 42 held');
    is($until{'2001:db8::/64'}, $t0 + $week, 'the /64 is held for the default week');
    is($until{'198.51.100.1/32'}, $t0, 'the IPv4 pool has no hold-down');
    is($plan->lookup('2001:db8::1')->{path}[-1]{status}, 'held', 'the /64 is held');
    is($plan->alloc('fra1', customer => 44)->{prefix}, '2001:db8:0:1::/64', 'the next customer does not get it');
    is($plan->alloc('v4', customer => 44)->{prefix}, '198.51.100.1/32', 'the IPv4 address is reusable at once');
    $plan->now($t0 + $week - 1);
    is($plan->lookup('2001:db8::/64')->{path}[-1]{status}, 'held', 'still held a second before the end');
    $plan->now($t0 + $week);
    is($plan->lookup('2001:db8::/64')->{path}[-1]{status}, 'free', 'free when the hold-down ends');
    is($plan->alloc('fra1', customer => 45)->{prefix}, '2001:db8::/64', 'and handed out again');
    is(scalar $plan->export_zone, 0, 'no PTR records left for the departed host');
};

subtest 'errors' => sub {
    ok(!eval { $plan->alloc('nope'); 1 }, 'an unknown pool');
    like($@, qr/^sixgate: error: .*"nope".* at \Q$0\E line \d+\.$/, 'is named, croaked at the caller');
    is($Sixgate::EXIT, 2, 'exit 2');
    ok(!eval { $plan->release('2001:db8:ffff::/64'); 1 }, 'releasing what is not allocated');
    like($@, qr/2001:db8:ffff::\/64/, 'names the prefix');
    ok(!eval { $plan->alloc('fra1', colour => 'red'); 1 }, 'an unknown option');
    like($@, qr/^Sixgate::Plan: alloc: unknown option\(s\) colour/, 'is named');
    my $missing = Sixgate::Plan->new(file => "$dir/none.json");
    ok(!eval { $missing->show; 1 }, 'a missing plan file');
    like($@, qr/no plan file \Q$dir\E\/none\.json/, 'says so');
    # Another writer holds the lock: a writer gives up after --wait, exit 1.
    open my $lock, '>>', "$file.lock" or die $!;
    flock($lock, LOCK_EX) or die $!;
    my $impatient = Sixgate::Plan->new(file => $file, now => $t0 + $week, wait => '1s');
    my $before = -s $file;
    ok(!eval { $impatient->alloc('fra1', customer => 46); 1 }, 'a locked plan');
    like($@, qr/^sixgate: error: \Q$file\E\.lock is locked by another writer \(waited 1000 ms\)/, 'croaks');
    is($Sixgate::EXIT, 1, 'exit 1: not refused, just not now');
    is($impatient->show('fra1')->{usage}{allocated}, 3, 'readers take no lock');
    close $lock;
    is($impatient->alloc('fra1', customer => 46)->{prefix}, '2001:db8:0:3::/64', 'once the lock is free');
    cmp_ok(-s $file, '>', $before, 'the plan grew');
};

subtest 'Sixgate->plan and $SIXGATE_PLAN' => sub {
    my $p = Sixgate->new(bin => $ENV{SIXGATE})->plan($file, now => $t0 + $week);
    is($p->owner('2001:db8:0:3::9')->{customer}, '46', 'a plan from a Sixgate object');
    local $ENV{SIXGATE_PLAN} = $file;
    is(Sixgate::Plan->new(now => $t0 + $week)->file, $file, 'the file from $SIXGATE_PLAN');
};

done_testing;
