#!/usr/bin/perl
# A hosting panel's day with Sixgate.pm: give a customer a /64 and a host
# address from the address plan, write munin-node's access lines and the
# customer's reverse zone, and find whose host each address in an access
# log is, even when the log shows the IPv4-mapped or NAT64 form.
#
#   SIXGATE=target/debug/sixgate perl examples/perl/panel.pl [OUTPUT_DIR]
#
# Files go to OUTPUT_DIR (default: a fresh temporary directory): plan.json
# (made on first use; `sixgate plan --file OUTPUT_DIR/plan.json show` reads
# it), munin-node.conf and the reverse zone; a summary goes to stdout.

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use File::Temp qw(tempdir);

use Sixgate qw(fmt_list normalize_list reverse_zones);

# The provider's NAT64 prefix: IPv4 clients show up under it in the logs
# of IPv6-only hosts.
my $NAT64 = '64:ff9b::/96';
# The monitoring servers allowed to poll munin-node on every host.
my @MONITORS     = ('2001:db8:ffff::10', '198.51.100.10');
my @MONITOR_NETS = ('2001:db8:ffff:1::/64');

my $dir = shift // tempdir('sixgate-panel-XXXXXX', TMPDIR => 1);
my $plan = Sixgate::Plan->new(file => "$dir/plan.json");

# The plan: the provider's customer block (a /48 of /64s) and paid IPv4.
unless (-e $plan->file) {
    $plan->init(pool => '2001:db8:100::/48', child => 64, name => 'customers');
    $plan->add_pool('198.51.100.0/24', child => 32, name => 'v4', hold_down => 0);
}

# Customer 42's /64 (the one it holds, else a new one, made a pool of host
# addresses), and a host in it with a paid IPv4 address.
my $customer = '42';
my ($net) = grep { $_->{prefix} =~ m{/64$} } $plan->show_customer($customer);
$net //= $plan->alloc('customers', customer => $customer, subdivide => 128, tags => ['panel']);
my %hosts = map { $_->{host} => $_->{prefix} } grep { $_->{host} } $plan->show_customer($customer);
unless ($hosts{'web1.example.com'}) {
    $plan->alloc($net->{prefix}, customer => $customer, host => 'web1.example.com');
    $plan->alloc('v4', customer => $customer, host => 'web1.example.com');
}

# munin-node.conf: one batch per style, so two sixgate runs for any number
# of monitors.
my @munin = ('# written by the panel: who may poll munin-node',
             fmt_list(\@MONITORS, style => 'munin-allow'),
             fmt_list(\@MONITOR_NETS, style => 'munin-cidr'));
write_file("$dir/munin-node.conf", join("\n", @munin) . "\n");

# The customer's reverse zone: the PTR records under its /64.
my ($zone) = reverse_zones($net->{prefix});    # a /64 is on a nibble boundary: one zone
my @zone = ("\$ORIGIN $zone", '$TTL 3600',
            '@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 3600',
            '@ IN NS ns1.example.net.',
            $plan->zone_text(within => $net->{prefix}));
chomp @zone;
write_file("$dir/$zone" . 'zone', join("\n", @zone) . "\n");

# Whose host is it? The log's addresses, folded in one batch, then looked
# up in the plan.
my @log = ('::ffff:198.51.100.1', '64:ff9b::c633:6401', '2001:DB8:100::1', '203.0.113.9');
my @folded = normalize_list(\@log, nat64_prefixes => [$NAT64]);
print "plan: ", $plan->file, "\ncustomer $customer: $net->{prefix}\n";
print "wrote $dir/munin-node.conf and $dir/${zone}zone\n";
for my $i (0 .. $#log) {
    # An address in none of our pools is not ours; any other failure is real.
    my $owner = eval { $plan->owner($folded[$i]) };
    die $@ if !$owner && $@ && $@ !~ /is not in any pool/;
    my $who = $owner && $owner->{host} ? "$owner->{host} (customer $owner->{customer})"
            : $owner ? "customer $owner->{customer}" : 'not ours';
    printf "%-22s -> %-16s %s\n", $log[$i], $folded[$i], $who;
}

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!\n";
    print $fh $text or die "$path: $!\n";
    close $fh or die "$path: $!\n";
}
