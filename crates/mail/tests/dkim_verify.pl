#!/usr/bin/perl
# A second independent DKIM verifier for the Rust tests: Perl's Mail::DKIM
# (Debian: libmail-dkim-perl), fed the published TXT records instead of
# real DNS.
#
# usage: dkim_verify.pl MESSAGE_FILE RECORDS_JSON
#
# Prints {"results": [{"algorithm", "result", "detail"}, ...]} with one
# entry per DKIM-Signature in header order; `result` is Mail::DKIM's
# verdict (pass, fail, invalid, …). Exits 2 when the module is missing.
use strict;
use warnings;
use JSON::PP;

BEGIN {
    for my $module (qw(Mail::DKIM::Verifier Net::DNS::RR)) {
        unless ( eval "require $module; 1" ) {
            print encode_json( { error => "missing module $module; apt-get install libmail-dkim-perl" } ), "\n";
            exit 2;
        }
    }
}

my ( $message_file, $records_file ) = @ARGV;
my $records = do {
    open my $fh, '<', $records_file or die "cannot read $records_file: $!";
    local $/;
    decode_json(<$fh>);
};
my %txt = map { lc($_) => $records->{$_} } keys %$records;

{
    # Answer Mail::DKIM's key lookups from the records file.
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ( $name, $type ) = @_;
        $name = lc $name;
        $name =~ s/\.$//;
        my $value = $txt{$name};
        return () unless defined $value && uc($type) eq 'TXT';
        # TXT character-strings hold at most 255 octets each.
        my @chunks = unpack '(a255)*', $value;
        return ( Net::DNS::RR->new( name => $name, type => 'TXT', txtdata => \@chunks ) );
    };
}

my $verifier = Mail::DKIM::Verifier->new();
open my $fh, '<:raw', $message_file or die "cannot read $message_file: $!";
while ( my $line = <$fh> ) {
    $verifier->PRINT($line);
}
close $fh;
$verifier->CLOSE;

my @results = map {
    { algorithm => $_->algorithm // '', result => $_->result // '', detail => $_->result_detail // '' }
} $verifier->signatures;
print encode_json( { results => \@results } ), "\n";
