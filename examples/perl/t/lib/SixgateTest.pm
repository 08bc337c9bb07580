package SixgateTest;

# Shared set-up for the tests: Sixgate.pm from examples/perl, the binary
# from $SIXGATE (run-tests.sh sets it; else the repository's debug build),
# and the shared vectors file core/testdata/vectors.json.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use JSON::PP ();
use Test::More ();

my $here;
my $root;

BEGIN {
    $here = dirname(File::Spec->rel2abs(__FILE__));                 # examples/perl/t/lib
    $root = File::Spec->catdir($here, File::Spec->updir, File::Spec->updir,
                               File::Spec->updir, File::Spec->updir);  # the repository
    unshift @INC, File::Spec->catdir($here, File::Spec->updir, File::Spec->updir);
    $ENV{SIXGATE} //= File::Spec->catfile($root, 'target', 'debug', 'sixgate');
    delete $ENV{SIXGATE_PLAN};
}

use Exporter 'import';
our @EXPORT = qw(vectors is_canonical_text);

# Messages are character strings (Sixgate.pm decodes sixgate's UTF-8).
for my $fh (map { Test::More->builder->$_ } qw(output failure_output todo_output)) {
    binmode $fh, ':encoding(UTF-8)';
}

my $vectors;

# The shared vectors, decoded.
sub vectors {
    return $vectors if $vectors;
    my $path = $ENV{SIXGATE_VECTORS}
      // File::Spec->catfile($root, 'core', 'testdata', 'vectors.json');
    open my $fh, '<:raw', $path or die "cannot read $path: $!";
    local $/;
    $vectors = JSON::PP->new->utf8->decode(<$fh>);
    return $vectors;
}

# True when an address or prefix text is lowercase and has no uppercase hex
# digits or leading zeros in IPv6 groups (the RFC 5952 properties a test can
# see without a second implementation).
sub is_canonical_text {
    my ($s) = @_;
    return 0 if $s =~ /[A-F]/;
    return 0 if $s =~ /:::/;
    return 0 if $s =~ /(?:^|:)0[0-9a-f]/;
    return 1;
}

1;
