#!/usr/bin/perl
# Sisimai's verdict for bare reply lines, for benchmarks/bench_accuracy.py --sisimai.
#
# Reads JSON lines {"text", "context", "host"} on stdin, writes one JSON line {"reason"} per input line.
# Sisimai (Debian: libsisimai-perl, 4.25) classifies parsed bounce emails, not lines; this does what
# Sisimai::Data->make does once a bounce is parsed: a Sisimai::Data record whose Diagnostic-Code is the
# reply, whose Status and reply code are found in it (Sisimai::SMTP::Status->find, ::Reply->find), whose
# command is the context (when Sisimai knows it) and whose remote host is the host; then the remote-host
# rules (Sisimai::Rhost) when the host has any, else Sisimai::Reason->get. What no bare line can give it is
# the MTA-specific parsing of a whole bounce (Sisimai::Lhost::*), which sometimes sets the reason itself.
use strict;
use warnings;
use JSON::PP;
use Sisimai::Data;
use Sisimai::Reason;
use Sisimai::Rhost;
use Sisimai::String;
use Sisimai::SMTP::Reply;
use Sisimai::SMTP::Status;

my $json = JSON::PP->new->utf8->canonical;
my %COMMANDS = map { $_ => 1 } qw(EHLO HELO MAIL RCPT DATA QUIT);
$| = 1;

while (my $line = <STDIN>) {
    my $in = $json->decode($line);
    my $text = Sisimai::String->sweep(join(' ', split(/\r?\n/, $in->{'text'} // '')));
    my $command = uc($in->{'context'} // '');
    $command = 'DATA' if $command eq 'AFTER-DATA';
    my $status = Sisimai::SMTP::Status->find($text) || '';
    my $data = Sisimai::Data->new(
        'addresser'      => {'address' => 'sender@example.org'},
        'recipient'      => 'recipient@example.com',
        'diagnosticcode' => $text,
        'diagnostictype' => 'SMTP',
        'deliverystatus' => $status,
        'replycode'      => Sisimai::SMTP::Reply->find($text) || '',
        'smtpcommand'    => $COMMANDS{$command} ? $command : '',
        'rhost'          => lc($in->{'host'} // ''),
        'action'         => $status =~ /\A[45]/ ? 'failed' : '',
        'timestamp'      => 0,
    );
    my $reason = '';
    $reason = Sisimai::Rhost->get($data) || '' if $data->rhost && Sisimai::Rhost->match($data->rhost);
    $reason ||= Sisimai::Reason->get($data) || 'undefined';
    print $json->encode({'reason' => $reason}), "\n";
}
