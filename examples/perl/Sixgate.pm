package Sixgate;

# Perl panels' interface to the `sixgate` binary: `sixgate addr` and
# `sixgate plan`, run without a shell, batch input through `--stdin`.
# Core Perl only (5.14 or later). The documentation is the POD at the end.

use 5.014;
use strict;
use warnings;

use Carp qw(croak);
use Exporter ();
use IO::Handle ();
use IO::Select ();
use IPC::Open3 qw(open3);
use JSON::PP ();
use Symbol qw(gensym);

our $VERSION = '0.1.0';

our @EXPORT_OK = qw(
  synthesize synthesize_list extract extract_list normalize normalize_list
  canonical canonical_list ptr ptr_list reverse_zones reverse_zones_list
  fmt fmt_list discover
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

# Croak from the caller's line, whichever of our packages the call went through.
our @CARP_NOT = ('Sixgate::Plan');

# The exit status of the last failed run (2: refused input, 1: I/O or lock).
our $EXIT = 0;

my $IMPORT_BIN;    # from `use Sixgate -bin => PATH`
my $JSON = JSON::PP->new->utf8;

sub import {
    my ($class, @args) = @_;
    my @names;
    while (@args) {
        my $arg = shift @args;
        if (defined $arg && $arg eq '-bin') {
            croak 'Sixgate: -bin needs a path' unless @args && defined $args[0];
            $IMPORT_BIN = shift @args;
        } else {
            push @names, $arg;
        }
    }
    local $Exporter::ExportLevel = 1;
    return Exporter::import($class, @names);
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        bin => $opt{bin} // $IMPORT_BIN // $ENV{SIXGATE} // 'sixgate',
    }, $class;
    my @unknown = grep { $_ ne 'bin' } keys %opt;
    croak "Sixgate->new: unknown option(s) @unknown" if @unknown;
    return $self;
}

sub bin { return $_[0]{bin} }

sub plan {
    my ($self, $file, %opt) = _self(@_);
    return Sixgate::Plan->new(%opt, file => $file, sixgate => $self);
}

# ---- sixgate addr ------------------------------------------------------------

sub synthesize {
    my ($self, $ipv4, %opt) = _self(@_);
    return $self->_one('synth', _synth_opts(\%opt), $ipv4);
}

sub synthesize_list {
    my ($self, $list, %opt) = _self(@_);
    return _ret($self->_many('synth', _synth_opts(\%opt), $list));
}

sub extract {
    my ($self, $ipv6, %opt) = _self(@_);
    return $self->_one('extract', _prefix_opts(\%opt), $ipv6);
}

sub extract_list {
    my ($self, $list, %opt) = _self(@_);
    return _ret($self->_many('extract', _prefix_opts(\%opt), $list));
}

sub normalize {
    my ($self, $addr, %opt) = _self(@_);
    return $self->_one('normalize', _nat64_opts(\%opt), $addr);
}

sub normalize_list {
    my ($self, $list, %opt) = _self(@_);
    return _ret($self->_many('normalize', _nat64_opts(\%opt), $list));
}

sub canonical {
    my ($self, $addr, %opt) = _self(@_);
    _no_opts('canonical', \%opt);
    return $self->_one('canonical', [], $addr);
}

sub canonical_list {
    my ($self, $list, %opt) = _self(@_);
    _no_opts('canonical_list', \%opt);
    return _ret($self->_many('canonical', [], $list));
}

sub ptr {
    my ($self, $addr, %opt) = _self(@_);
    _no_opts('ptr', \%opt);
    return $self->_one('ptr', [], $addr);
}

sub ptr_list {
    my ($self, $list, %opt) = _self(@_);
    _no_opts('ptr_list', \%opt);
    return _ret($self->_many('ptr', [], $list));
}

sub reverse_zones {
    my ($self, $prefix, %opt) = _self(@_);
    _no_opts('reverse_zones', \%opt);
    _check_arg($prefix, 'prefix');
    my $rows = $self->_json([ 'addr', 'reverse-zones', '--json', '--', $prefix ]);
    return @{ $rows->[0]{zones} };
}

sub reverse_zones_list {
    my ($self, $list, %opt) = _self(@_);
    _no_opts('reverse_zones_list', \%opt);
    my $input = _lines($list);
    return _ret([]) unless length $input;
    my $rows = $self->_json([ 'addr', 'reverse-zones', '--json', '--stdin' ], $input);
    _count($rows, $list);
    return _ret([ map { $_->{zones} } @$rows ]);
}

sub fmt {
    my ($self, $addr, %opt) = _self(@_);
    return $self->_one('fmt', _fmt_opts(\%opt), $addr);
}

sub fmt_list {
    my ($self, $list, %opt) = _self(@_);
    return _ret($self->_many('fmt', _fmt_opts(\%opt), $list));
}

sub discover {
    my ($self, @answers) = _self(@_);
    @answers = @{ $answers[0] } if @answers == 1 && ref $answers[0] eq 'ARRAY';
    croak 'Sixgate: discover needs at least one AAAA answer' unless @answers;
    my $rows = $self->_json([ 'addr', 'discover', '--json', '--stdin' ], _lines(\@answers));
    return map { $_->{prefix} } @$rows;
}

# ---- internals ---------------------------------------------------------------

# ($self, @rest) whether called as a function, a class method or a method.
sub _self {
    if (@_ && defined $_[0]) {
        my $first = $_[0];
        if (ref $first && eval { $first->isa('Sixgate') }) {
            return @_;
        }
        if (!ref $first && $first eq 'Sixgate') {
            shift;
            return (_default(), @_);
        }
    }
    return (_default(), @_);
}

# The object behind the plain functions: made afresh for each call, so a
# change to $ENV{SIXGATE} takes effect at once.
sub _default { return Sixgate->new }

sub _ret { return wantarray ? @{ $_[0] } : $_[0] }

sub _synth_opts {
    my ($opt) = @_;
    my @args;
    push @args, '--prefix=' . delete $opt->{prefix} if defined $opt->{prefix};
    delete $opt->{prefix};
    push @args, '--allow-non-global' if delete $opt->{allow_non_global};
    _no_opts('synthesize', $opt);
    return \@args;
}

sub _prefix_opts {
    my ($opt) = @_;
    my @args;
    push @args, '--prefix=' . $opt->{prefix} if defined $opt->{prefix};
    delete $opt->{prefix};
    _no_opts('extract', $opt);
    return \@args;
}

sub _nat64_opts {
    my ($opt) = @_;
    my @args = map { "--nat64-prefix=$_" } _list_opt(delete $opt->{nat64_prefixes});
    _no_opts('normalize', $opt);
    return \@args;
}

sub _fmt_opts {
    my ($opt) = @_;
    my $style = delete $opt->{style};
    croak 'Sixgate: fmt needs style => STYLE' unless defined $style;
    my @args = ("--style=$style");
    push @args, '--port=' . $opt->{port} if defined $opt->{port};
    delete $opt->{port};
    _no_opts('fmt', $opt);
    return \@args;
}

sub _list_opt {
    my ($v) = @_;
    return () unless defined $v;
    return ref $v eq 'ARRAY' ? @$v : ($v);
}

sub _no_opts {
    my ($what, $opt) = @_;
    my @unknown = sort keys %$opt;
    croak "Sixgate: $what: unknown option(s) @unknown" if @unknown;
    return;
}

# One input on the command line (taken exactly as given), one line out.
sub _one {
    my ($self, $op, $opts, $value) = @_;
    _check_arg($value, 'input');
    my $out = $self->_run([ 'addr', $op, @$opts, '--', $value ]);
    my @lines = split /\n/, $out;
    croak "Sixgate: sixgate addr $op printed " . scalar(@lines) . ' lines for one input'
      unless @lines == 1;
    return $lines[0];
}

# A list through --stdin, one line out per input. Plain lines, not --json:
# JSON::PP costs about 20 us per row, splitting lines well under 1 us.
sub _many {
    my ($self, $op, $opts, $list) = @_;
    my $input = _lines($list);
    return [] unless length $input;
    my $out = $self->_run([ 'addr', $op, @$opts, '--stdin' ], $input);
    my @lines = split /\n/, $out;
    _count(\@lines, $list);
    return \@lines;
}

sub _count {
    my ($got, $list) = @_;
    croak 'Sixgate: sixgate printed ' . scalar(@$got) . ' results for ' . scalar(@$list) . ' inputs'
      unless @$got == @$list;
    return;
}

# The --stdin text for a list: one value per line. A value that is undefined
# or holds a line break cannot be sent as one line and is refused here.
sub _lines {
    my ($list) = @_;
    croak 'Sixgate: expected an array reference of inputs' unless ref $list eq 'ARRAY';
    my $i = 0;
    for my $v (@$list) {
        $i++;
        croak "Sixgate: input $i is undefined" unless defined $v;
        croak "Sixgate: input $i " . _quote($v) . ' holds a line break or NUL, which batch mode cannot send'
          if $v =~ /[\n\r\0]/;
    }
    return '' unless @$list;
    return join("\n", @$list) . "\n";
}

# A value passed as one argument: anything but undef and NUL (which no
# argument can hold) goes to sixgate, which judges it.
sub _check_arg {
    my ($v, $what) = @_;
    croak "Sixgate: the $what is undefined" unless defined $v;
    croak "Sixgate: the $what " . _quote($v) . ' holds a NUL, which no argument can carry'
      if $v =~ /\0/;
    return $v;
}

sub _quote {
    my ($s) = @_;
    (my $q = $s) =~ s/([\\"])/\\$1/g;
    $q =~ s/\n/\\n/g;
    $q =~ s/\r/\\r/g;
    $q =~ s/\0/\\0/g;
    return qq{"$q"};
}

sub _json {
    my ($self, $args, $input) = @_;
    my $out = $self->_run($args, $input);
    my $v;
    eval { $v = $JSON->decode($out); 1 }
      or croak "Sixgate: sixgate printed JSON that does not parse: $@";
    return $v;
}

# Runs sixgate with a list of arguments (never a shell) and `$input` (or
# nothing) on its stdin; returns its stdout, or croaks with its stderr line.
# stdin, stdout and stderr are served together through select(), so neither
# side can block on a full pipe whatever the sizes.
sub _run {
    my ($self, $args, $input) = @_;
    my $bin = $self->{bin};
    my @argv = map { my $a = $_; utf8::encode($a) if utf8::is_utf8($a); $a } @$args;
    if (defined $input && utf8::is_utf8($input)) {
        $input = "$input";
        utf8::encode($input);
    }
    local $SIG{PIPE} = 'IGNORE';    # sixgate may stop reading early: EPIPE, not death
    my ($in, $out, $err) = (undef, undef, gensym);
    my $pid = eval { open3($in, $out, $err, $bin, @argv) };
    unless ($pid) {
        (my $why = $@ || $!) =~ s/\s+\z//;
        $why =~ s/^open3: //;
        $why =~ s/ at \S+ line \d+\.?\z//;
        $EXIT = -1;
        croak "sixgate: cannot run $bin: $why";
    }
    my %buf = (out => '', err => '');
    my %name = (fileno($out) => 'out', fileno($err) => 'err');
    my $reads = IO::Select->new($out, $err);
    my $writes = IO::Select->new;
    my $len = defined $input ? length $input : 0;
    my $off = 0;
    if ($len) {
        $in->blocking(0);
        $writes->add($in);
    } else {
        close $in;
    }
    while ($reads->count || $writes->count) {
        my ($r, $w) = IO::Select->select($reads, $writes, undef);
        unless (defined $r) {
            next if $!{EINTR};
            my $why = "$!";
            kill 'TERM', $pid;
            waitpid($pid, 0);
            $EXIT = -1;
            croak "sixgate: waiting for $bin: $why";
        }
        for my $fh (@$w) {
            my $n = syswrite($fh, $input, 1 << 16, $off);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                $off = $len;    # EPIPE: it stopped reading; its stderr says why
            } else {
                $off += $n;
            }
            if ($off >= $len) {
                $writes->remove($fh);
                close $fh;
            }
        }
        for my $fh (@$r) {
            my $key = $name{ fileno $fh };
            my $n = sysread($fh, $buf{$key}, 1 << 16, length $buf{$key});
            next if !defined $n && ($!{EINTR} || $!{EAGAIN});
            if (!$n) {
                $reads->remove($fh);
                close $fh;
            }
        }
    }
    waitpid($pid, 0);
    my $status = $?;
    return $buf{out} if $status == 0;
    $EXIT = $status & 127 ? -1 : $status >> 8;
    my ($line) = grep { /\S/ } split /\n/, $buf{err};
    $line //= $status & 127
      ? "sixgate: killed by signal " . ($status & 127)
      : "sixgate: exited with status $EXIT";
    utf8::decode($line);
    croak $line;
}

# ---- sixgate plan ------------------------------------------------------------

package Sixgate::Plan;

use Carp qw(croak);

our @CARP_NOT = ('Sixgate');

sub new {
    my ($class, %opt) = @_;
    my $sixgate = delete $opt{sixgate};
    $sixgate //= Sixgate->new(defined $opt{bin} ? (bin => $opt{bin}) : ());
    delete $opt{bin};
    my $self = bless {
        sixgate => $sixgate,
        file    => delete $opt{file} // $ENV{SIXGATE_PLAN} // 'sixgate-plan.json',
        now     => delete $opt{now},
        wait    => delete $opt{wait},
    }, $class;
    my @unknown = sort keys %opt;
    croak "Sixgate::Plan->new: unknown option(s) @unknown" if @unknown;
    return $self;
}

sub file { return $_[0]{file} }

sub now {
    my $self = shift;
    $self->{now} = shift if @_;
    return $self->{now};
}

sub init {
    my ($self, %opt) = @_;
    my @args = ('init');
    push @args, '--force' if delete $opt{force};
    if (defined $opt{pool}) {
        push @args, '--pool=' . delete $opt{pool};
        push @args, _spec(\%opt, 1);
    }
    delete $opt{pool};
    _none('init', \%opt);
    return $self->_plan(\@args);
}

sub add_pool {
    my ($self, $prefix, %opt) = @_;
    my @spec = _spec(\%opt, 1);
    _none('add_pool', \%opt);
    return $self->_plan([ 'add-pool', @spec, '--', _need($prefix, 'prefix') ]);
}

sub remove_pool {
    my ($self, $prefix) = @_;
    return $self->_plan([ 'remove-pool', '--', _need($prefix, 'prefix') ]);
}

sub alloc {
    my ($self, $pool, %opt) = @_;
    my @args = ('alloc', '--pool=' . _need($pool, 'pool'));
    for my $k (qw(customer host at index id)) {
        push @args, "--$k=" . $opt{$k} if defined $opt{$k};
        delete $opt{$k};
    }
    push @args, map { "--tag=$_" } Sixgate::_list_opt(delete $opt{tags});
    if (defined $opt{subdivide}) {
        push @args, '--subdivide=' . delete $opt{subdivide};
        push @args, _spec(\%opt, 0);
    }
    delete $opt{subdivide};
    _none('alloc', \%opt);
    return $self->_plan(\@args);
}

sub subdivide {
    my ($self, $prefix, %opt) = @_;
    my @spec = _spec(\%opt, 1);
    _none('subdivide', \%opt);
    return $self->_plan([ 'subdivide', @spec, '--', _need($prefix, 'prefix') ]);
}

sub release {
    my ($self, @prefixes) = @_;
    @prefixes = @{ $prefixes[0] } if @prefixes == 1 && ref $prefixes[0] eq 'ARRAY';
    croak 'Sixgate::Plan: release needs a prefix (or use release_customer)' unless @prefixes;
    _need($_, 'prefix') for @prefixes;
    return @{ $self->_plan([ 'release', '--', @prefixes ]) };
}

sub release_customer {
    my ($self, $customer) = @_;
    return @{ $self->_plan([ 'release', '--customer=' . _need($customer, 'customer') ]) };
}

sub reserve {
    my ($self, $pool, $prefix, %opt) = @_;
    my @args = ('reserve', '--pool=' . _need($pool, 'pool'));
    push @args, '--reason=' . $opt{reason} if defined $opt{reason};
    delete $opt{reason};
    _none('reserve', \%opt);
    return $self->_plan([ @args, '--', _need($prefix, 'prefix') ]);
}

sub unreserve {
    my ($self, $prefix) = @_;
    return $self->_plan([ 'unreserve', '--', _need($prefix, 'prefix') ]);
}

sub show {
    my ($self, $pool) = @_;
    return $self->_plan([ 'show', defined $pool ? ('--', $pool) : () ]);
}

sub show_customer {
    my ($self, $customer) = @_;
    return @{ $self->_plan([ 'show', '--customer=' . _need($customer, 'customer') ]) };
}

sub free {
    my ($self, $pool, %opt) = @_;
    my @args = ('free');
    push @args, '--limit=' . $opt{limit} if defined $opt{limit};
    delete $opt{limit};
    _none('free', \%opt);
    return @{ $self->_plan([ @args, '--', _need($pool, 'pool') ])->{free} };
}

sub lookup {
    my ($self, $query, %opt) = @_;
    my $rows = $self->lookup_list([$query], %opt);
    return $rows->[0];
}

sub lookup_list {
    my ($self, $queries, %opt) = @_;
    croak 'Sixgate::Plan: lookup_list expects an array reference' unless ref $queries eq 'ARRAY';
    return Sixgate::_ret([]) unless @$queries;
    my @args = ('lookup', map { "--nat64-prefix=$_" } Sixgate::_list_opt(delete $opt{nat64_prefixes}));
    _none('lookup', \%opt);
    Sixgate::_check_arg($_, 'query') for @$queries;
    return Sixgate::_ret($self->_plan([ @args, '--', @$queries ]));
}

sub owner {
    my ($self, $query, %opt) = @_;
    my $row = $self->lookup($query, %opt);
    my ($owner) = reverse grep { $_->{status} eq 'allocated' } @{ $row->{path} };
    return $owner;
}

sub export_zone {
    my ($self, %opt) = @_;
    return @{ $self->_plan([ 'export-zone', _zone_opts(\%opt) ]) };
}

sub zone_text {
    my ($self, %opt) = @_;
    return $self->_plan([ 'export-zone', _zone_opts(\%opt) ], 1);
}

sub _zone_opts {
    my ($opt) = @_;
    my @args;
    push @args, '--within=' . $opt->{within} if defined $opt->{within};
    push @args, '--ttl=' . $opt->{ttl} if defined $opt->{ttl};
    push @args, '--forward' if $opt->{forward};
    push @args, '--zones' if $opt->{zones};
    delete @$opt{qw(within ttl forward zones)};
    _none('export_zone', $opt);
    return @args;
}

# Pool options; `child` is taken (and required by sixgate) when $with_child.
sub _spec {
    my ($opt, $with_child) = @_;
    my @args;
    my @keys = qw(strategy name hold_down);
    unshift @keys, 'child' if $with_child;
    for my $k (@keys) {
        next unless defined $opt->{$k};
        (my $flag = $k) =~ tr/_/-/;
        push @args, "--$flag=" . $opt->{$k};
    }
    push @args, '--allow-unaligned' if $opt->{allow_unaligned};
    push @args, '--no-reserve-special' if $opt->{no_reserve_special};
    delete @$opt{ @keys, qw(allow_unaligned no_reserve_special) };
    return @args;
}

sub _need {
    my ($v, $what) = @_;
    return Sixgate::_check_arg($v, $what);
}

sub _none {
    my ($what, $opt) = @_;
    my @unknown = sort keys %$opt;
    croak "Sixgate::Plan: $what: unknown option(s) @unknown" if @unknown;
    return;
}

sub _plan {
    my ($self, $args, $plain) = @_;
    my @global = ('plan', '--file=' . $self->{file});
    push @global, '--now=' . $self->{now} if defined $self->{now};
    push @global, '--wait=' . $self->{wait} if defined $self->{wait};
    return $self->{sixgate}->_run([ @global, @$args ]) if $plain;
    return $self->{sixgate}->_json([ @global, '--json', @$args ]);
}

1;

__END__

=encoding utf8

=head1 NAME

Sixgate - IPv6 address arithmetic and address plans for Perl panels, over the sixgate binary

=head1 SYNOPSIS

  use lib '/usr/local/share/sixgate/perl';     # wherever Sixgate.pm is
  use Sixgate qw(synthesize synthesize_list normalize fmt ptr);

  my $v6  = synthesize('198.51.100.7', prefix => '2001:db8:64::/96');
                                               # '2001:db8:64::c633:6407'
  my @v6  = synthesize_list(\@ipv4, prefix => '2001:db8:64::/96');  # one spawn
  my $who = normalize('::ffff:203.0.113.5');   # '203.0.113.5'
  my $cfg = fmt('2001:db8::1', style => 'nginx', port => 443);  # '[2001:db8::1]:443'

  my $plan = Sixgate::Plan->new(file => '/var/lib/panel/plan.json');
  my $net  = $plan->alloc('fra1', customer => 42, subdivide => 128, name => 'c42')->{prefix};
  my $host = $plan->alloc('c42', customer => 42, host => 'web1.example.com')->{prefix};
  my $own  = $plan->owner('::ffff:198.51.100.1');    # the allocation, or undef

  eval { synthesize('10.1.2.3') };
  print $@;   # sixgate: error: 10.1.2.3 is in 10.0.0.0/8 (private-use, RFC 1918), ...

=head1 DESCRIPTION

Sixgate runs the C<sixgate> binary (C<sixgate addr> and C<sixgate plan>) and
returns its results as Perl strings, lists and hashes. It needs only core Perl
(5.14 or later: L<IPC::Open3>, L<IO::Select>, L<JSON::PP>, L<Carp>).

=over

=item *

B<No shell.> Every value goes to sixgate as its own argument (L<IPC::Open3>
with a list), so user input is never interpreted by a shell; options are
passed as C<--name=value> and positional values after C<-->, so a value
starting with a dash is never taken for an option.

=item *

B<Any case in, lowercase canonical out.> Inputs may be in any case and any
valid IPv6 spelling; every address and prefix that comes back is in RFC 5952
canonical text (lowercase, the longest run of zeros compressed).

=item *

B<Errors croak with sixgate's own message>, the one line it wrote on stderr,
which quotes the bad value, e.g. C<sixgate: error: "192.0.2.300" is not an
IPv4 address>. That holds for refused input (exit status 2), I/O and lock
failures (exit status 1), and a missing binary (C<sixgate: cannot run
/path/sixgate: No such file or directory>). C<$Sixgate::EXIT> holds the exit
status of the last failed run (2 refused, 1 I/O or lock, -1 not run or
killed). Nothing is ever half done: sixgate checks every input before it
prints anything.

=item *

B<Batch mode.> Each C<*_list> function sends its whole list to one sixgate
process through C<--stdin> (one value per line), so a thousand addresses cost
one process spawn, not a thousand. Standard input, output and error are
served together through C<select>, so a list of any size cannot deadlock. An
error names the line, which is the list element's index plus one:
C<sixgate: error: stdin line 3: "x" is not an IP address>.

=back

=head2 Finding the binary

In order: the C<bin> option of C<< Sixgate->new >> (or C<< Sixgate::Plan->new >>);
C<use Sixgate -bin =E<gt> '/usr/local/bin/sixgate'>; C<$ENV{SIXGATE}>; else
C<sixgate> found in C<PATH>.

=head1 FUNCTIONS

Each function can be called as a plain function (exported on request, or as
C<Sixgate::name(...)>), using a default object that finds the binary as
above, or as a method on an object from C<< Sixgate->new(bin => PATH) >>.
C<use Sixgate ':all'> exports every function.

The single forms take one value exactly as given (a value with surrounding
spaces is refused, as in every sixgate binding). The C<*_list> forms take an
array reference and return a list (an array reference in scalar context),
one result per input, in order; like C<sixgate addr --stdin> they ignore
whitespace around each value. An undefined value, or one holding a line
break, is refused before anything runs. At most 1,000,000 values per call.

=head2 synthesize($ipv4, %opt), synthesize_list(\@ipv4, %opt)

The IPv6 address embedding C<$ipv4> under a NAT64 prefix (RFC 6052 §2.2).
Options: C<prefix> (default C<64:ff9b::/96>; one of /32 /40 /48 /56 /64 /96),
C<allow_non_global> (true to let private, documentation and other non-global
IPv4 under the well-known prefix, which RFC 6052 §3.1 forbids by default).

=head2 extract($ipv6, %opt), extract_list(\@ipv6, %opt)

The IPv4 address embedded in C<$ipv6>. Option C<prefix> as above. Croaks if
the address is outside the prefix or its u-octet (bits 64-71) is not zero.

=head2 normalize($addr, %opt), normalize_list(\@addrs, %opt)

The form that identifies a host in a log: IPv4-mapped (C<::ffff:a.b.c.d>)
becomes IPv4; an address under one of the C<nat64_prefixes> (an array
reference, or one prefix) becomes the IPv4 it embeds; anything else comes back
in canonical text.

=head2 canonical($addr), canonical_list(\@addrs)

Canonical text, nothing folded: RFC 5952 for IPv6 (C<::ffff:192.0.2.1> stays
as it is), dotted decimal for IPv4.

=head2 ptr($addr), ptr_list(\@addrs)

The PTR name: C<33.2.0.192.in-addr.arpa.>, or 32 nibbles under C<ip6.arpa.>.

=head2 reverse_zones($prefix), reverse_zones_list(\@prefixes)

The reverse zones that exactly cover a prefix (IPv6 on nibble, IPv4 on octet
boundaries). C<reverse_zones> returns the list of zone names;
C<reverse_zones_list> returns one array reference of zone names per prefix.

=head2 fmt($addr, style => STYLE, port => N), fmt_list(\@addrs, style => STYLE, port => N)

The address written as a program's config wants it. Styles: C<hostport>,
C<url>, C<nginx>, C<haproxy>, C<apache>, C<sshd>, C<bind>, C<nsd>,
C<known-hosts>, C<munin-allow>, C<munin-cidr> (see C<sixgate addr fmt --help>
and the sixgate README for what each program gets wrong). C<port> is
optional, except for C<hostport>.

=head2 discover(@answers), discover(\@answers)

The NAT64 prefixes found from the AAAA answers for C<ipv4only.arpa> (RFC
7050), as a list of prefix strings. Croaks if none can be found.

=head1 ADDRESS PLANS: Sixgate::Plan

  my $plan = Sixgate::Plan->new(file => $path, bin => $sixgate, now => $epoch, wait => '10s');
  my $plan = Sixgate->new(bin => $sixgate)->plan($path);

One plan file, as C<sixgate plan> keeps it: writers take its lock and replace
it atomically, so several panel processes (and the CLI, and Python's
C<edit_plan>) can change one plan at once. C<file> defaults to
C<$ENV{SIXGATE_PLAN}>, else C<sixgate-plan.json>. C<now> (seconds since the
epoch) is passed as C<--now> for hold-downs (default: the system clock;
C<< $plan->now($t) >> changes it). C<wait> is how long a writer waits for
another writer's lock (C<--wait>, default 10s). Prefixes and addresses may
be given in any case; what comes back is canonical. See F<docs/plan.md> for
the concepts and for the JSON behind each hash.

Pool options (C<%spec> below): C<child> (the children's prefix length),
C<strategy> (C<first-fit>, C<sparse>, C<deterministic>,
C<deterministic-decimal>, C<deterministic-hash>), C<name>, C<hold_down> (0,
or e.g. C<3600s>, C<90m>, C<12h>, C<30d>), C<allow_unaligned>,
C<no_reserve_special>.

=over

=item init(%opt)

Creates the plan file (C<force =E<gt> 1> replaces an existing one), with a
first top-level pool if C<pool =E<gt> PREFIX> and C<%spec> are given. Returns
C<< { pools => [...] } >>.

=item add_pool($prefix, %spec), remove_pool($prefix)

Adds a top-level pool (returns the pool's hash), or removes an empty one.

=item alloc($pool, %opt)

Allocates a child of C<$pool> (its name or prefix) and returns the allocation
hash: C<prefix>, C<customer>, C<host>, C<tags>, C<since>, C<pool>. Options:
C<customer>, C<host>, C<tags> (array reference), C<at> (a particular child),
C<index>, C<id>, and C<subdivide =E<gt> LEN> to make the new allocation a pool
of LEN-long children at once (with the other C<%spec> options but C<child>).

=item subdivide($prefix, %spec)

Makes an existing allocation a pool; returns the pool's hash.

=item release(@prefixes), release_customer($id)

Releases allocations and everything under them, each into its pool's
hold-down. Returns one hash per released prefix: C<prefix>, C<customer>,
C<host>, C<tags>, C<until>.

=item reserve($pool, $prefix, reason => TEXT), unreserve($prefix)

Keeps a range of a pool out of allocation, or lifts that.

=item show(), show($pool), show_customer($id)

C<< { pools => [...] } >> with each pool's C<usage>; one pool's hash with its
C<allocations>, C<reserved> and C<held>; the list of a customer's allocations.

=item free($pool, limit => N)

The pool's free space as a list of the largest aligned blocks.

=item lookup($query, nat64_prefixes => [...]), lookup_list(\@queries, ...)

What holds an address or prefix: C<< { query, prefix, path => [steps] } >>,
each step with C<pool>, C<pool_name>, C<child>, C<status> (C<allocated>,
C<reserved>, C<held>, C<free>) and, when allocated, C<prefix>, C<customer>,
C<host>, C<tags>. IPv4-mapped addresses fold to IPv4, and addresses under the
given NAT64 prefixes to the IPv4 they embed. C<lookup_list> passes its queries
as arguments (one process; keep lists to some thousands).

=item owner($query, nat64_prefixes => [...])

The deepest allocated step of C<lookup> (the host address rather than its
customer /64), or undef when nothing holds the address.

=item export_zone(%opt), zone_text(%opt)

DNS records for what is allocated: PTR records, or with C<forward =E<gt> 1> the
A/AAAA records, or with C<zones =E<gt> 1> the reverse zones of customer
prefixes. C<within =E<gt> PREFIX> limits them, C<ttl =E<gt> N> sets a TTL.
C<export_zone> returns hashes (C<name>, C<ttl>, C<type>, C<data>; for zones:
C<zone>, C<prefix>, C<customer>, C<host>); C<zone_text> returns the
zone-file text.

=back

=head1 SPEED

Each call starts a sixgate process, which costs 2-4 ms on a small server,
so call the C<*_list> forms for more than a few values: in batches of
10,000 or more the cost is under a microsecond per address. F<examples/perl/bench.pl> measures it; the README next to
this module has the figures.

=head1 SEE ALSO

The sixgate README (C<sixgate addr>, C<sixgate plan>), F<docs/plan.md>.

=cut
